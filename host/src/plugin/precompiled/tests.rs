//! Precompiled cache: hit, miss, damaged artefacts, engine-dependent keys.

use super::*;
use crate::plugin::testing::Guest;

fn engine(opt: wasmtime::OptLevel) -> Engine {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(opt);
    Engine::new(&c).unwrap()
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[test]
fn miss_compiles_and_stores_then_hit_maps() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(wasmtime::OptLevel::Speed);
    let cache = PrecompiledCache::new(dir.path().join("nested/cache"), &e);
    let wasm = Guest::pass().wasm();
    let (_, origin) = cache.component(&e, &wasm, &sha(&wasm)).unwrap();
    assert_eq!(origin, Origin::Compiled);
    let path = cache.path_for(&sha(&wasm));
    assert!(path.exists(), "artefact stored at {}", path.display());
    assert!(checksum_path(&path).exists());
    let (component, origin) = cache.component(&e, &wasm, &sha(&wasm)).unwrap();
    assert_eq!(origin, Origin::Cached);
    // The mapped component is a working one: it still has its export.
    let ty = component.component_type();
    assert!(ty
        .exports(&e)
        .any(|(n, _)| n == "wasmdns:plugin/policy@0.1.0"));
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp")), "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn different_content_is_a_different_artefact() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(wasmtime::OptLevel::Speed);
    let cache = PrecompiledCache::new(dir.path().to_path_buf(), &e);
    let a = Guest::pass().wasm();
    let b = Guest::block_nxdomain().wasm();
    assert_ne!(cache.path_for(&sha(&a)), cache.path_for(&sha(&b)));
    cache.component(&e, &a, &sha(&a)).unwrap();
    assert_eq!(
        cache.component(&e, &b, &sha(&b)).unwrap().1,
        Origin::Compiled
    );
}

#[test]
fn damaged_artefacts_are_recompiled_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(wasmtime::OptLevel::Speed);
    let cache = PrecompiledCache::new(dir.path().to_path_buf(), &e);
    let wasm = Guest::pass().wasm();
    let key = sha(&wasm);
    cache.component(&e, &wasm, &key).unwrap();
    let path = cache.path_for(&key);
    let good = std::fs::read(&path).unwrap();
    assert!(good.len() > 64);

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    let truncated = good[..good.len() / 2].to_vec();
    for damaged in [b"garbage".to_vec(), Vec::new(), truncated, flipped] {
        std::fs::write(&path, &damaged).unwrap();
        let (_, origin) = cache.component(&e, &wasm, &key).unwrap();
        assert_eq!(origin, Origin::Compiled, "{} bytes", damaged.len());
        // Rewritten whole: the next load passes the checksum and maps it.
        let (_, origin) = cache.component(&e, &wasm, &key).unwrap();
        assert_eq!(origin, Origin::Cached, "{} bytes", damaged.len());
    }
    // A missing checksum also means recompiling.
    std::fs::remove_file(checksum_path(&path)).unwrap();
    assert_eq!(
        cache.component(&e, &wasm, &key).unwrap().1,
        Origin::Compiled
    );
    assert_eq!(cache.component(&e, &wasm, &key).unwrap().1, Origin::Cached);
}

#[test]
fn the_key_changes_with_the_engine_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let speed = engine(wasmtime::OptLevel::Speed);
    let none = engine(wasmtime::OptLevel::None);
    let a = PrecompiledCache::new(dir.path().to_path_buf(), &speed);
    let b = PrecompiledCache::new(dir.path().to_path_buf(), &none);
    let again = PrecompiledCache::new(dir.path().to_path_buf(), &engine(wasmtime::OptLevel::Speed));
    let key = [7u8; 32];
    assert_ne!(a.path_for(&key), b.path_for(&key));
    assert_eq!(
        a.path_for(&key),
        again.path_for(&key),
        "stable across engines"
    );
    let wasm = Guest::pass().wasm();
    a.component(&speed, &wasm, &sha(&wasm)).unwrap();
    assert_eq!(
        b.component(&none, &wasm, &sha(&wasm)).unwrap().1,
        Origin::Compiled
    );
}

#[test]
fn an_unwritable_directory_still_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let e = engine(wasmtime::OptLevel::Speed);
    let cache = PrecompiledCache::new(file.join("cache"), &e);
    let wasm = Guest::pass().wasm();
    for _ in 0..2 {
        let (_, origin) = cache.component(&e, &wasm, &sha(&wasm)).unwrap();
        assert_eq!(origin, Origin::Compiled);
    }
    assert!(cache.warned.load(Ordering::Relaxed));
}

#[test]
fn invalid_components_fail_without_storing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(wasmtime::OptLevel::Speed);
    let cache = PrecompiledCache::new(dir.path().to_path_buf(), &e);
    let bad = b"\0asm\x0d\0\x01\0garbage".to_vec();
    assert!(cache.component(&e, &bad, &sha(&bad)).is_err());
    assert!(!cache.path_for(&sha(&bad)).exists());
}

#[test]
fn default_dir_follows_xdg_then_home() {
    // Read-only check of the rule on this machine's environment.
    let got = default_dir();
    match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if !x.is_empty() && Path::new(&x).is_absolute() => {
            assert_eq!(got, Some(PathBuf::from(x).join("wasmdns/precompiled")));
        }
        (_, Some(h)) if !h.is_empty() => {
            assert_eq!(
                got,
                Some(PathBuf::from(h).join(".cache/wasmdns/precompiled"))
            );
        }
        _ => assert_eq!(got, None),
    }
}
