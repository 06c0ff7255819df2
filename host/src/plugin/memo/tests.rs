//! The memo alone: lookup by question, lifetimes, bounds, the admission filter
//! and the size bound on kept verdicts.

use std::time::Duration;

use super::*;
use crate::plugin::types::BlockKind;

fn q(name: &str, qtype: u16) -> QuestionView {
    QuestionView {
        name: name.into(),
        qtype,
        qclass: 1,
    }
}

fn blocked() -> Memo {
    Memo {
        passed: 1,
        verdict: Some(Arc::new(ChainQueryVerdict::Block {
            plugin: "blocklist".into(),
            kind: BlockKind::Nxdomain,
        })),
    }
}

/// Offers `m` twice, as a question asked again would be: then it is kept.
fn keep(memo: &VerdictMemo, q: &QuestionView, now: Instant, secs: u32, m: Memo) {
    memo.offer(q, now, secs, || m.clone());
    memo.offer(q, now, secs, || m);
}

fn passed(n: usize) -> Memo {
    Memo {
        passed: n,
        verdict: None,
    }
}

#[test]
fn a_memo_is_found_by_its_own_question_only() {
    let memo = VerdictMemo::new(64).unwrap();
    let now = Instant::now();
    keep(&memo, &q("ads.example", 1), now, 60, blocked());
    assert_eq!(memo.get(&q("ads.example", 1), now), Some(blocked()));
    assert_eq!(memo.get(&q("ads.example", 28), now), None);
    assert_eq!(memo.get(&q("ads.exampl", 1), now), None);
    assert_eq!(memo.get(&q("ads.example.com", 1), now), None);
    let mut chaos = q("ads.example", 1);
    chaos.qclass = 3;
    assert_eq!(memo.get(&chaos, now), None);
    assert_eq!(memo.len(), 1);
}

#[test]
fn entries_expire_after_their_seconds_never_later() {
    let memo = VerdictMemo::new(64).unwrap();
    let t0 = memo.epoch + Duration::from_millis(900);
    keep(&memo, &q("a", 1), t0, 2, passed(2));
    assert_eq!(memo.get(&q("a", 1), t0), Some(passed(2)));
    // Made in the memo's second 0, it lives through second 1: 1.1 s, not 2.
    let last = memo.epoch + Duration::from_millis(1_999);
    assert_eq!(memo.get(&q("a", 1), last), Some(passed(2)));
    let end = memo.epoch + Duration::from_secs(2);
    assert_eq!(memo.get(&q("a", 1), end), None);
    assert_eq!(memo.get(&q("a", 1), t0 + Duration::from_secs(60)), None);
}

#[test]
fn a_new_memo_replaces_the_old_one() {
    let memo = VerdictMemo::new(64).unwrap();
    let now = Instant::now();
    keep(&memo, &q("a", 1), now, 60, blocked());
    memo.offer(&q("a", 1), now, 60, || passed(3));
    assert_eq!(memo.get(&q("a", 1), now), Some(passed(3)));
    assert_eq!(memo.len(), 1);
}

#[test]
fn never_holds_more_than_its_bound_and_keeps_what_is_asked_again() {
    // 64 entries per shard's hot half: the 16 inserts between two rounds of
    // asking cannot rotate a shard twice, whatever the hash spreads where.
    let bound = 1024;
    let memo = VerdictMemo::new(bound).unwrap();
    let now = Instant::now();
    let hot: Vec<_> = (0..8).map(|i| q(&format!("hot{i}"), 1)).collect();
    for h in &hot {
        keep(&memo, h, now, 60, passed(1));
    }
    for i in 0..10_000 {
        // A flood of names each asked twice: the filter lets them all in.
        keep(
            &memo,
            &q(&format!("flood{i}.example"), 1),
            now,
            60,
            passed(1),
        );
        assert!(memo.len() <= bound, "{} entries after {i}", memo.len());
        if i % 16 == 0 {
            for h in &hot {
                assert_eq!(memo.get(h, now), Some(passed(1)), "{} after {i}", h.name);
            }
        }
    }
    // Flood names asked once are mostly gone, the hot ones all there.
    assert!(memo.len() > bound / 4, "{} entries", memo.len());
}

#[test]
fn names_offered_once_are_not_kept() {
    let memo = VerdictMemo::new(DEFAULT_ENTRIES).unwrap();
    let now = Instant::now();
    for i in 0..1000 {
        memo.offer(&q(&format!("once{i}.example"), 1), now, 60, || passed(1));
    }
    // Only false hits in the filter get in: ~1% at this fill.
    assert!(memo.len() < 50, "{} one-off names kept", memo.len());
    let again = q("once7.example", 1);
    memo.offer(&again, now, 60, || passed(1));
    assert_eq!(memo.get(&again, now), Some(passed(1)), "asked again: kept");
}

#[test]
fn the_filter_is_cleared_and_keeps_working_after_a_flood() {
    let memo = VerdictMemo::new(64).unwrap();
    let now = Instant::now();
    for i in 0..100_000 {
        memo.offer(&q(&format!("f{i}"), 1), now, 60, || passed(1));
    }
    assert!(memo.len() <= 64);
    keep(&memo, &q("hot", 1), now, 60, passed(1));
    assert_eq!(memo.get(&q("hot", 1), now), Some(passed(1)));
}

#[test]
fn only_verdicts_up_to_the_size_bound_are_kept() {
    let answer = |n: usize| ChainQueryVerdict::Answer {
        plugin: "p".into(),
        records: vec![
            PluginRecord {
                name: String::new(),
                ttl: 60,
                data: PluginRData::Txt(vec!["x".repeat(254)]),
            };
            n
        ],
    };
    // 265 bytes a record: 7 fit in 2048, 8 do not.
    assert!(fits(&answer(7)));
    assert!(!fits(&answer(8)));
    let rewrite = |len| ChainQueryVerdict::Rewrite {
        plugin: "p".into(),
        name: "a".repeat(len),
    };
    assert!(fits(&rewrite(MAX_VERDICT_BYTES)));
    assert!(!fits(&rewrite(MAX_VERDICT_BYTES + 1)));
    assert!(fits(&ChainQueryVerdict::Pass));
    assert!(fits(&blocked().verdict.unwrap()));
}

#[test]
fn zero_entries_means_no_memo() {
    assert!(VerdictMemo::new(0).is_none());
    let one = VerdictMemo::new(1).unwrap();
    let now = Instant::now();
    keep(&one, &q("a", 1), now, 60, passed(1));
    assert_eq!(one.get(&q("a", 1), now), Some(passed(1)));
}

#[test]
fn a_prefix_longer_than_a_byte_is_not_kept() {
    let memo = VerdictMemo::new(8).unwrap();
    let now = Instant::now();
    keep(&memo, &q("a", 1), now, 60, passed(300));
    assert_eq!(memo.get(&q("a", 1), now), None);
}
