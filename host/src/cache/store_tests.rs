//! Store unit tests: keys, bounds, CLOCK second chance, dead-first eviction, purge.

use std::time::{Duration, Instant};

use super::*;
use crate::cache::fixtures::a_answer;

fn store(max_entries: u64, stale: Duration) -> Store {
    Store::new(max_entries, stale, RandomState::new(), Instant::now())
}

/// The key bytes of `name`'s A question (flags 0).
fn key_bytes(name: &str) -> Vec<u8> {
    let mut key = vec![0, 0, 1, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        key.push(label.len() as u8);
        key.extend_from_slice(label.as_bytes());
    }
    key.push(0);
    key
}

/// A record answering `name` with `answers` A records of `ttl`, stored at `now`.
fn record(store: &Store, name: &str, ttl: u32, answers: usize, now: Instant) -> Vec<u8> {
    let answer = a_answer(name, ttl, answers, now);
    let mut bytes = Vec::new();
    record::encode(&answer, 0, store.ticks(now), &mut bytes).unwrap();
    bytes
}

fn put_sized(store: &Store, name: &str, ttl: u32, answers: usize, now: Instant) -> bool {
    let bytes = record(store, name, ttl, answers, now);
    let key_bytes = key_bytes(name);
    let key = Key::new(&key_bytes).unwrap();
    store.insert(store.hash(key), key, &bytes, now)
}

fn put(store: &Store, name: &str, ttl: u32, now: Instant) -> bool {
    put_sized(store, name, ttl, 1, now)
}

/// Marks `name` as hit; whether it is there.
fn hit(store: &Store, name: &str) -> bool {
    let key_bytes = key_bytes(name);
    let key = Key::new(&key_bytes).unwrap();
    store
        .with(store.hash(key), key, |mut r| {
            r.hit();
        })
        .is_some()
}

fn lifetime_of(store: &Store, name: &str) -> Option<u32> {
    let key_bytes = key_bytes(name);
    let key = Key::new(&key_bytes).unwrap();
    store.with(store.hash(key), key, |r| r.read().lifetime())
}

#[test]
fn a_record_is_found_by_its_own_key_only() {
    let (store, now) = (store(100, Duration::ZERO), Instant::now());
    assert!(put(&store, "x.example.", 300, now));
    assert!(hit(&store, "x.example."));
    assert!(!hit(&store, "y.example."));
    let other_type = [
        0, 0, 28, 0, 1, 1, b'x', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
    ];
    let key = Key::new(&other_type).unwrap();
    assert!(store.with(store.hash(key), key, |_| ()).is_none());
}

#[test]
fn keys_sharing_a_hash_both_live() {
    let (store, now) = (store(100, Duration::ZERO), Instant::now());
    let (a_key, b_key) = (key_bytes("a.example."), key_bytes("b.example."));
    for (name, key) in [("a.example.", &a_key), ("b.example.", &b_key)] {
        let bytes = record(&store, name, 300, 1, now);
        assert!(store.insert(42, Key::new(key).unwrap(), &bytes, now));
    }
    for key in [&a_key, &b_key] {
        assert!(store.with(42, Key::new(key).unwrap(), |_| ()).is_some());
    }
    assert_eq!(store.purge(now), 2);
}

#[test]
fn the_same_key_replaces_its_record() {
    let (store, now) = (store(100, Duration::ZERO), Instant::now());
    put(&store, "x.example.", 10, now);
    put(&store, "x.example.", 600, now);
    assert_eq!(lifetime_of(&store, "x.example."), Some(600));
    assert_eq!(
        store.purge(now + Duration::from_secs(300)),
        1,
        "takes the new lifetime"
    );
}

#[test]
fn never_holds_more_than_max_entries() {
    let now = Instant::now();
    for max in [1, 2, 3, 10, 1000, 3000, 5000] {
        let store = store(max, Duration::ZERO);
        for i in 0..max * 3 {
            put(&store, &format!("n{i}.example."), 300, now);
        }
        let held = store.purge(now);
        assert!(held <= max && held > max / 2, "max {max}: {held}");
        // The newest is always there.
        assert!(
            hit(&store, &format!("n{}.example.", max * 3 - 1)),
            "max {max}"
        );
    }
}

#[test]
fn zero_capacity_stores_nothing() {
    let (store, now) = (store(0, Duration::ZERO), Instant::now());
    assert!(!put(&store, "x.example.", 300, now));
    assert!(!hit(&store, "x.example."));
    assert_eq!(store.purge(now), 0);
}

#[test]
fn entries_hit_since_the_hand_passed_survive_a_flood() {
    let (store, now) = (store(100, Duration::ZERO), Instant::now());
    for i in 0..100 {
        put(&store, &format!("n{i}.example."), 300, now);
    }
    for i in 0..10 {
        assert!(hit(&store, &format!("n{i}.example.")));
    }
    // 90 one-off names: exactly the unused entries are taken.
    for i in 0..90 {
        put(&store, &format!("flood{i}.example."), 300, now);
    }
    let held = |name: String| {
        let key_bytes = key_bytes(&name);
        let key = Key::new(&key_bytes).unwrap();
        store.with(store.hash(key), key, |_| ()).is_some()
    };
    assert!(
        (0..10).all(|i| held(format!("n{i}.example."))),
        "popular kept"
    );
    assert!((10..100).all(|i| !held(format!("n{i}.example."))));
    // Unused since the hand's pass, they go on its next turn.
    for i in 100..200 {
        put(&store, &format!("flood{i}.example."), 300, now);
    }
    assert!(
        (0..10).all(|i| !held(format!("n{i}.example."))),
        "second chance only"
    );
    assert_eq!(store.purge(now), 100);
}

#[test]
fn dead_entries_go_first_even_when_used() {
    let (store, now) = (store(10, Duration::ZERO), Instant::now());
    put(&store, "short.example.", 1, now);
    hit(&store, "short.example.");
    for i in 0..9 {
        put(&store, &format!("n{i}.example."), 300, now);
        hit(&store, &format!("n{i}.example."));
    }
    let later = now + Duration::from_secs(5);
    put(&store, "new.example.", 300, later);
    assert!(!hit(&store, "short.example."), "the dead one made room");
    assert!((0..9).all(|i| hit(&store, &format!("n{i}.example."))));
}

#[test]
fn purge_drops_the_dead_and_keeps_the_rest_findable() {
    let (store, now) = (store(100, Duration::from_secs(10)), Instant::now());
    for i in 0..20 {
        let ttl = if i % 2 == 0 { 5 } else { 300 };
        put(&store, &format!("n{i}.example."), ttl, now);
    }
    // Expired but inside the stale window: still held.
    assert_eq!(store.purge(now + Duration::from_secs(10)), 20);
    assert_eq!(store.purge(now + Duration::from_secs(15)), 10);
    assert!((0..20).all(|i| hit(&store, &format!("n{i}.example.")) == (i % 2 == 1)));
    // The ring still takes new records after the sweep.
    for i in 0..200 {
        put(&store, &format!("m{i}.example."), 300, now);
    }
    assert_eq!(store.purge(now + Duration::from_secs(15)), 100);
}

#[test]
fn large_answers_are_bounded_by_bytes_too() {
    let (store, now) = (store(100, Duration::ZERO), Instant::now());
    // ~9 KB each (no name compression): the 64 KiB ring of a 100-entry store holds seven.
    for i in 0..20 {
        assert!(put_sized(
            &store,
            &format!("big{i}.example."),
            300,
            300,
            now
        ));
    }
    let held = store.purge(now);
    assert!((1..=7).contains(&held), "{held}");
    assert!(hit(&store, "big19.example."));
    // Small ones still go in, pushing the big ones out.
    for i in 0..100 {
        put(&store, &format!("n{i}.example."), 300, now);
    }
    assert_eq!(store.purge(now), 100);
}

#[test]
fn adopt_copies_the_live_records() {
    let (old, now) = (store(100, Duration::ZERO), Instant::now());
    for i in 0..10 {
        put(
            &old,
            &format!("n{i}.example."),
            if i < 5 { 1 } else { 300 },
            now,
        );
    }
    let next = Store::new(1000, Duration::ZERO, old.keys().clone(), old.epoch());
    next.adopt(&old, now);
    assert_eq!(next.purge(now), 10, "adopted as they were");
    assert_eq!(
        next.purge(now + Duration::from_secs(2)),
        5,
        "then swept like any other"
    );
    assert!((5..10).all(|i| hit(&next, &format!("n{i}.example."))));
    let small = Store::new(3, Duration::ZERO, old.keys().clone(), old.epoch());
    small.adopt(&old, now);
    assert_eq!(small.purge(now), 3);
}

#[test]
fn shard_layout_is_bounded_and_keeps_indexes_dense() {
    for max in [0, 1, 10, 1024, 2047, 5000, 100_000, 1_250_000, 10_000_000] {
        let (shards, per) = layout(max);
        assert!(
            (1..=MAX_SHARDS as usize).contains(&shards),
            "{max}: {shards}"
        );
        assert!((shards * per) as u64 <= max, "{max}");
        if max >= 2 * ENTRIES_PER_SHARD {
            let density = per as f64 / buckets(per as u64) as f64;
            assert!(density > 0.75, "{max}: {shards} shards of {per}: {density}");
        }
    }
    assert_eq!(layout(1000), (1, 1000), "small caches are one exact shard");
}

/// A random mix of inserts (replacing, small and large answers), hits, expiry and
/// sweeps against a model of what was last stored: the store never returns an
/// older version of an answer, never holds more than its bound, and what it
/// holds is always findable. Deterministic (seeded), so a failure reproduces.
#[test]
fn random_operations_agree_with_a_model() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    for (seed, max) in [(1, 50), (2, 300), (3, 5000)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (store, start) = (store(max, Duration::from_secs(2)), Instant::now());
        // name -> lifetime of the last answer stored for it
        let mut model: HashMap<String, u32> = HashMap::new();
        let mut now = start;
        for step in 0..20_000 {
            let name = format!("n{}.example.", rng.random_range(0..max * 2));
            match rng.random_range(0..10) {
                0..5 => {
                    let ttl = rng.random_range(1..600);
                    let answers = if rng.random_range(0..50) == 0 { 200 } else { 1 };
                    assert!(put_sized(&store, &name, ttl, answers, now));
                    model.insert(name, ttl);
                }
                5..9 => {
                    if let Some(lifetime) = lifetime_of(&store, &name) {
                        assert_eq!(
                            Some(&lifetime),
                            model.get(&name),
                            "seed {seed} step {step}: {name}"
                        );
                        hit(&store, &name);
                    }
                }
                _ => now += Duration::from_millis(rng.random_range(0..3000)),
            }
            if step % 1000 == 999 {
                let held = store.purge(now);
                assert!(held <= max, "seed {seed}: {held} > {max}");
                let findable = model
                    .keys()
                    .filter(|n| lifetime_of(&store, n).is_some())
                    .count();
                assert_eq!(findable as u64, held, "seed {seed} step {step}");
            }
        }
    }
}
