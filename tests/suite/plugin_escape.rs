//! The sandbox holds for any guest: a plugin compiled with the whole Rust standard
//! library (`test_escape`) sees no files and no environment, its stdout/stderr
//! writes go nowhere without trapping, and a socket import traps — counted as a
//! failure per `on_error`, with nothing reaching a listener on 127.0.0.1 and the
//! instance rebuilt.

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use wasmdns::plugin::{ChainQueryVerdict, PluginRData};

use super::languages::{ip, load, Loaded};
use crate::support::plugins::wasm;

const TXT: u16 = 16;

fn escape() -> Loaded {
    load("escape", wasm("test_escape"), "{}")
}

/// The single TXT string the plugin answered `name` with.
fn report(p: &Loaded, name: &str) -> String {
    match p.query(name, TXT, ip("192.0.2.1")) {
        ChainQueryVerdict::Answer { records, .. } => match &records[..] {
            [r] => match &r.data {
                PluginRData::Txt(strings) => strings.concat(),
                other => panic!("{name}: not TXT: {other:?}"),
            },
            other => panic!("{name}: {} records", other.len()),
        },
        other => panic!("{name}: {other:?}"),
    }
}

/// Waits (bounded) until the trapped instance has been rebuilt.
fn pool_refills(p: &Loaded) {
    let start = Instant::now();
    while p.chain.available(p.name) != Some(super::languages::POOL) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pool not refilled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn plugin_sees_no_files_environment_or_output() {
    let p = escape();
    assert_eq!(report(&p, "file.test"), "file=denied");
    assert_eq!(report(&p, "env.test"), "env=0 args=0");
    assert_eq!(report(&p, "stdout.test"), "stdout=ok");
    assert_eq!(p.chain.available(p.name), Some(super::languages::POOL));
}

#[test]
fn plugin_cannot_open_sockets() {
    let p = escape();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp_port = udp.local_addr().unwrap().port();
    let failed = ChainQueryVerdict::Failed {
        plugin: p.name.into(),
    };
    // The socket imports are not granted: calling them traps (on_error = servfail).
    assert_eq!(
        p.query(&format!("tcp.{tcp_port}.test"), TXT, ip("192.0.2.1")),
        failed
    );
    pool_refills(&p);
    assert_eq!(
        p.query(&format!("udp.{udp_port}.test"), TXT, ip("192.0.2.1")),
        failed
    );
    pool_refills(&p);
    std::thread::sleep(Duration::from_millis(50));
    assert!(tcp.accept().is_err(), "a plugin connected to 127.0.0.1");
    assert!(
        udp.recv_from(&mut [0; 16]).is_err(),
        "a plugin sent a datagram"
    );
    // Still serving after the traps.
    assert_eq!(report(&p, "env.test"), "env=0 args=0");
}
