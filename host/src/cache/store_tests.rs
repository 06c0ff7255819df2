//! Store unit tests: bounds, CLOCK second chance, dead-first eviction, purge.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::dns::testutil::{self, a, Sections};
use crate::dns::{Answer, TtlPolicy};

const POLICY: TtlPolicy = TtlPolicy {
    min_ttl: 0,
    max_ttl: 86_400,
    negative_max_ttl: 3600,
};

fn entry(ttl: u32, now: Instant) -> Arc<Entry> {
    let s = Sections {
        answers: vec![a("x.example.", ttl, 1)],
        ..Sections::default()
    };
    let wire = testutil::response(1, "x.example.", RecordType::A, ResponseCode::NoError, s);
    Arc::new(Entry::new(
        Answer::from_upstream(&wire, &POLICY, now).unwrap(),
        0,
    ))
}

/// Distinct hashes that all land in shard 0 and spread over the table.
fn hash(n: u64) -> u64 {
    n.wrapping_mul(0x9e37_79b9_7f4a_7c15) & !(0xffff_u64 << 32)
}

fn filled(store: &Store, n: u64, ttl: u32, now: Instant) {
    for i in 0..n {
        store.insert(hash(i), entry(ttl, now), now);
    }
}

#[test]
fn get_finds_what_was_put_and_only_that() {
    let (store, now) = (Store::new(100, Duration::ZERO), Instant::now());
    let e = entry(300, now);
    store.insert(hash(1), Arc::clone(&e), now);
    assert!(Arc::ptr_eq(&store.get(hash(1)).unwrap(), &e));
    assert!(store.get(hash(2)).is_none());
}

#[test]
fn same_hash_replaces_in_place() {
    let (store, now) = (Store::new(100, Duration::ZERO), Instant::now());
    store.insert(hash(1), entry(10, now), now);
    let newer = entry(600, now);
    store.insert(hash(1), Arc::clone(&newer), now);
    assert!(Arc::ptr_eq(&store.get(hash(1)).unwrap(), &newer));
    assert_eq!(
        store.purge(now + Duration::from_secs(300)),
        1,
        "takes the new death time"
    );
}

#[test]
fn never_holds_more_than_max_entries() {
    let now = Instant::now();
    for max in [1, 3, 10, 1023, 1024, 5000, 70_000] {
        let store = Store::new(max, Duration::ZERO);
        for i in 0..max * 3 {
            // Spread over every shard: the real hashes are uniform.
            store.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), entry(300, now), now);
        }
        let held = store.purge(now);
        assert!(held <= max && held >= max / 2, "{held} held for max {max}");
    }
}

#[test]
fn zero_capacity_stores_nothing() {
    let (store, now) = (Store::new(0, Duration::ZERO), Instant::now());
    store.insert(hash(1), entry(300, now), now);
    assert!(store.get(hash(1)).is_none());
    assert_eq!(store.purge(now), 0);
}

/// Whether `hash` is held, without marking it used as `get` would.
fn held(store: &Store, hash: u64) -> bool {
    store.shard(hash).find(hash).is_some()
}

#[test]
fn entries_hit_since_the_hand_passed_survive_a_flood() {
    let (store, now) = (Store::new(100, Duration::ZERO), Instant::now());
    filled(&store, 100, 300, now);
    let popular: Vec<u64> = (0..100).step_by(10).map(hash).collect();
    for &h in &popular {
        assert!(store.get(h).is_some());
    }
    // 90 one-off names: exactly the unused slots are taken.
    for i in 1000..1090 {
        store.insert(hash(i), entry(300, now), now);
    }
    assert!(popular.iter().all(|&h| held(&store, h)), "popular kept");
    assert!((0..100)
        .filter(|i| i % 10 != 0)
        .all(|i| !held(&store, hash(i))));
    // Unused since the hand's pass, they go on its next turn.
    for i in 2000..2100 {
        store.insert(hash(i), entry(300, now), now);
    }
    assert!(
        popular.iter().all(|&h| !held(&store, h)),
        "second chance only"
    );
}

#[test]
fn dead_entries_go_first_even_when_used() {
    let stale = Duration::from_secs(5);
    let (store, now) = (Store::new(4, stale), Instant::now());
    for i in 0..4 {
        let ttl = if i == 2 { 10 } else { 3600 };
        store.insert(hash(i), entry(ttl, now), now);
        store.get(hash(i));
    }
    // Expired but inside the stale window (dies at 10 + 5 s): still counted.
    assert_eq!(store.purge(now + Duration::from_secs(14)), 4);
    // Past the window: the hand clears 0 and 1, then takes 2 although it was used.
    let dead = now + Duration::from_secs(16);
    store.insert(hash(10), entry(3600, dead), dead);
    assert!(!held(&store, hash(2)));
    assert!([0, 1, 3, 10].iter().all(|&i| held(&store, hash(i))));
}

#[test]
fn purge_drops_the_dead_and_keeps_the_rest_findable() {
    let (store, now) = (Store::new(1000, Duration::ZERO), Instant::now());
    for i in 0..300 {
        let ttl = if i % 3 == 0 { 10 } else { 3600 };
        store.insert(hash(i), entry(ttl, now), now);
    }
    assert_eq!(
        store.purge(now + Duration::from_secs(9)),
        300,
        "none dead yet"
    );
    assert_eq!(store.purge(now + Duration::from_secs(11)), 200);
    for i in 0..300 {
        assert_eq!(store.get(hash(i)).is_some(), i % 3 != 0, "entry {i}");
    }
    // The moved slots are linked where they now are: replacing and evicting still work.
    for i in 0..300 {
        store.insert(hash(i), entry(3600, now), now);
    }
    assert_eq!(store.purge(now), 300);
    assert!((0..300).all(|i| store.get(hash(i)).is_some()));
}

#[test]
fn entries_lists_every_pair_once() {
    let (store, now) = (Store::new(5000, Duration::ZERO), Instant::now());
    for i in 0..3000u64 {
        store.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), entry(300, now), now);
    }
    let mut hashes: Vec<u64> = store.entries().into_iter().map(|(h, _)| h).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), 3000);
}

#[test]
fn shards_are_powers_of_two_and_capped() {
    for (max, shards) in [
        (0, 1),
        (1, 1),
        (2047, 1),
        (2048, 2),
        (100_000, 64),
        (u64::MAX, 64),
    ] {
        let store = Store::new(max, Duration::ZERO);
        assert_eq!(store.shards.len(), shards, "max {max}");
        assert_eq!(store.mask + 1, shards);
    }
}
