//! Native micro-measure of the blocklist at one million names.
//!
//! Run: `cargo run --release --target x86_64-unknown-linux-gnu -p blocklist --example measure`
//! Writes a 1M-line hosts file to the temp dir and loads it as a `file` list
//! through the plugin's real init path (streamed in 64 KiB chunks, natively read
//! with `std::fs`), then prints the load time, the heap the loaded plugin holds
//! (and the peak during load), and the lookup cost for hits and misses. Results
//! are recorded in the crate README.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use blocklist::Blocklist;
use wasmdns_plugin_sdk::Plugin;

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    // Forwarded so that a shrinking realloc is not counted as a second copy
    // (the default would alloc + copy + dealloc).
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 1_000_000;
const LOOKUPS: usize = 2_000_000;

fn listed(i: usize) -> String {
    format!("ads{i}.tracker{}.example", i % 5000)
}

fn main() {
    let path = std::env::temp_dir().join(format!("wasmdns-measure-{}.hosts", std::process::id()));
    let mut hosts = String::with_capacity(N * 40);
    for i in 0..N {
        hosts.push_str("0.0.0.0 ");
        hosts.push_str(&listed(i));
        hosts.push('\n');
    }
    std::fs::write(&path, &hosts).expect("temp file written");
    let file_bytes = hosts.len();
    drop(hosts);
    // As the host passes it: the table as written, the file named, not inlined.
    let config = format!(
        r#"{{"lists":[{{"format":"hosts","file":{:?}}}]}}"#,
        path.to_str().expect("utf-8 temp path")
    );
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);

    let start = Instant::now();
    let plugin = Blocklist::from_json(config).expect("config loads");
    let load_time = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let _ = std::fs::remove_file(&path);
    let (names, set_bytes) = plugin.stats();

    let hits: Vec<String> = (0..1000)
        .map(|i| format!("www.{}", listed(i * 997)))
        .collect();
    let misses: Vec<String> = (0..1000)
        .map(|i| format!("www.site{i}.news{}.example", i % 7))
        .collect();
    let hit_ns = time_lookups(&plugin, &hits, true);
    let miss_ns = time_lookups(&plugin, &misses, false);

    println!(
        "names loaded:           {names} ({:?})",
        plugin.reports()[0]
    );
    println!("hosts file:             {:.1} MiB", mib(file_bytes));
    println!(
        "load (read + parse + build): {:.0} ms",
        load_time.as_secs_f64() * 1e3
    );
    println!(
        "heap held after load:   {:.2} MiB ({:.2} bytes/name)",
        mib(set_bytes),
        set_bytes as f64 / names as f64
    );
    println!("peak heap during init:  {:.1} MiB", mib(peak));
    println!("lookup, hit (4 labels): {hit_ns:.0} ns");
    println!("lookup, miss (4 labels):{miss_ns:.0} ns");
}

fn time_lookups(plugin: &Blocklist, names: &[String], expect: bool) -> f64 {
    let start = Instant::now();
    for i in 0..LOOKUPS {
        let name = &names[i % names.len()];
        assert_eq!(
            black_box(plugin.is_blocked(black_box(name))),
            expect,
            "{name}"
        );
    }
    start.elapsed().as_nanos() as f64 / LOOKUPS as f64
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
