//! Policy plugins end to end with real compiled components (built by the tests):
//! every verdict kind over UDP and TCP, the RFC 8914 extended error, rewrites,
//! on-response on misses and cache hits, chain order, per-client decisions.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;
use tokio::net::{TcpSocket, UdpSocket};

use crate::support::client::{self, Tcp, AAAA as QAAAA, TXT, WAIT};
use crate::support::plugins::plugin;
use crate::support::{decode, rc, rcode, setup, FakeUpstream, Proxy, Reply, A as QA, Q};

const MX: u16 = 15;
/// RFC 8914 option code and the "Blocked" info code.
const EDE_OPTION: u16 = 15;
const EDE_BLOCKED: u16 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Udp,
    Tcp,
}

pub const BOTH: [Via; 2] = [Via::Udp, Via::Tcp];

/// One exchange over `via`; the raw answer and its decoding.
pub async fn ask(to: SocketAddr, q: &Q, via: Via) -> (Vec<u8>, Message) {
    let raw = match via {
        Via::Udp => client::udp(to, &q.bytes()).await,
        Via::Tcp => client::tcp(to, &q.bytes()).await,
    };
    let m = decode(&raw);
    assert_eq!(client::id_of(&raw), q.id, "ID echoed");
    (raw, m)
}

/// The RFC 8914 extended error of an answer: (info code, text).
pub fn ede(m: &Message) -> Option<(u16, String)> {
    use hickory_proto::rr::rdata::opt::EdnsOption;
    m.edns
        .as_ref()?
        .options()
        .options
        .iter()
        .find_map(|(_, o)| match o {
            EdnsOption::Unknown(EDE_OPTION, d) if d.len() >= 2 => Some((
                u16::from_be_bytes([d[0], d[1]]),
                String::from_utf8_lossy(&d[2..]).into_owned(),
            )),
            _ => None,
        })
}

/// The blocked answer carries EDE 15 naming `plugin` when EDNS was sent, and no
/// OPT at all otherwise.
pub fn assert_blocked_ede(m: &Message, edns: bool, plugin: &str) {
    if edns {
        let (code, text) = ede(m).unwrap_or_else(|| panic!("no EDE in {m:?}"));
        assert_eq!(code, EDE_BLOCKED);
        assert!(
            text.contains(plugin),
            "EDE text {text:?} does not name {plugin}"
        );
    } else {
        assert!(m.edns.is_none(), "OPT in an answer to a query without EDNS");
    }
}

async fn verdicts_proxy() -> (FakeUpstream, Proxy) {
    setup(|c| c.plugins = vec![plugin("verdicts", "test_verdicts", json!({}))]).await
}

fn answer_types(m: &Message) -> Vec<RecordType> {
    m.answers.iter().map(|r| r.record_type()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_over_udp_and_tcp_with_ede_only_for_edns_clients() {
    let (up, proxy) = verdicts_proxy().await;
    let cases = [
        ("nxdomain.test", QA, rc::NXDOMAIN),
        ("refused.test", QA, rc::REFUSED),
        ("rcode-2.test", QA, rc::SERVFAIL),
        ("rcode-4.test", QAAAA, rc::NOTIMP),
        ("null-ip.test", MX, rc::NOERROR),
    ];
    for via in BOTH {
        for edns in [false, true] {
            for (i, (name, qtype, want)) in cases.iter().enumerate() {
                let mut q = Q::new(name, *qtype).id(i as u16 * 0x1111);
                if edns {
                    q = q.edns(1232, 0, false);
                }
                let (_, m) = ask(proxy.addr, &q, via).await;
                assert_eq!(rcode(&m), *want, "{name} over {via:?}, edns {edns}");
                assert!(m.answers.is_empty(), "{name}: {:?}", m.answers);
                assert_eq!(m.queries[0].name.to_string(), format!("{name}."));
                assert_blocked_ede(&m, edns, "verdicts");
            }
        }
    }
    assert!(up.seen().is_empty(), "blocked queries reached the upstream");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_rcode_blocks_need_edns() {
    let (_up, proxy) = verdicts_proxy().await;
    for via in BOTH {
        let q = Q::new("rcode-23.test", QA).edns(1232, 0, false);
        let (_, m) = ask(proxy.addr, &q, via).await;
        assert_eq!(rcode(&m), 23, "BADCOOKIE, its upper bits in the OPT record");
        // Without OPT only the low 4 bits would arrive (23 → 7, YXDOMAIN).
        let (_, m) = ask(proxy.addr, &Q::new("rcode-23.test", QA), via).await;
        assert_eq!(rcode(&m), rc::SERVFAIL);
        let (_, m) = ask(
            proxy.addr,
            &Q::new("rcode-4096.test", QA).edns(1232, 0, false),
            via,
        )
        .await;
        assert_eq!(rcode(&m), rc::SERVFAIL, "beyond 12 bits");
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_ip_answers_unspecified_addresses() {
    let (up, proxy) = verdicts_proxy().await;
    for via in BOTH {
        let (_, m) = ask(
            proxy.addr,
            &Q::new("Null-IP.Test", QA).edns(1232, 0, false),
            via,
        )
        .await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::A(A(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(
            m.answers[0].name.to_string(),
            "Null-IP.Test.",
            "owner keeps 0x20 case"
        );
        assert_blocked_ede(&m, true, "verdicts");

        let (_, m) = ask(proxy.addr, &Q::new("null-ip.test", QAAAA), via).await;
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED)));
        assert!(m.edns.is_none());
    }
    assert!(up.seen().is_empty());
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_verdict_records_owned_by_the_question_as_asked() {
    let (up, proxy) = verdicts_proxy().await;
    for via in BOTH {
        let (_, m) = ask(proxy.addr, &Q::new("AnSwEr.ExAmPlE", QA), via).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert_eq!(
            answer_types(&m),
            [RecordType::A, RecordType::AAAA, RecordType::TXT]
        );
        for r in &m.answers {
            assert_eq!(
                r.name.to_string(),
                "AnSwEr.ExAmPlE.",
                "0x20 case of the owner"
            );
            assert_eq!(r.ttl, 60);
        }
        assert_eq!(m.answers[0].data, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
        let RData::TXT(txt) = &m.answers[2].data else {
            panic!("{:?}", m.answers[2]);
        };
        assert_eq!(&*txt.txt_data[0], b"wasmdns");
        assert!(m.edns.is_none() && !m.metadata.truncation);

        let (_, m) = ask(proxy.addr, &Q::new("empty.example", TXT), via).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert!(m.answers.is_empty(), "an empty answer is NODATA");
    }
    assert!(
        up.seen().is_empty(),
        "local answers never reach the upstream"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_answers_cname_then_the_targets_answer_also_from_cache() {
    let (up, proxy) = verdicts_proxy().await;
    up.on("target.example", Reply::a(300, [192, 0, 2, 7]));
    for (i, via) in [Via::Udp, Via::Tcp, Via::Udp].into_iter().enumerate() {
        let (_, m) = ask(proxy.addr, &Q::new("ReWrite.Target.Example", QA), via).await;
        assert_eq!(rcode(&m), rc::NOERROR, "query {i} over {via:?}");
        assert_eq!(answer_types(&m), [RecordType::CNAME, RecordType::A]);
        assert_eq!(m.answers[0].name.to_string(), "ReWrite.Target.Example.");
        let RData::CNAME(target) = &m.answers[0].data else {
            panic!("{:?}", m.answers[0]);
        };
        assert_eq!(target.0.to_ascii().to_lowercase(), "target.example.");
        assert!(m.answers[0].ttl <= 60);
        assert_eq!(
            m.answers[1].name.to_ascii().to_lowercase(),
            "target.example."
        );
        assert_eq!(m.answers[1].data, RData::A(A(Ipv4Addr::new(192, 0, 2, 7))));
        assert_eq!(m.queries[0].name.to_string(), "ReWrite.Target.Example.");
    }
    assert_eq!(
        up.count_name("target.example"),
        1,
        "asked once, then cached"
    );
    assert_eq!(
        up.count_name("rewrite.target.example"),
        0,
        "original never asked"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_response_replace_and_block_also_apply_to_cache_hits() {
    let (up, proxy) = verdicts_proxy().await;
    let both = Reply::records(vec![
        (300, RData::A(A(Ipv4Addr::new(192, 0, 2, 4)))),
        (
            300,
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 4))),
        ),
    ]);
    up.on("strip.example", both.clone());
    up.on("resp-nxdomain.example", both);
    for via in [Via::Udp, Via::Tcp, Via::Udp] {
        let (_, m) = ask(proxy.addr, &Q::new("STRIP.example", QA), via).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert_eq!(answer_types(&m), [RecordType::A], "AAAA stripped ({via:?})");
        assert_eq!(m.answers[0].name.to_string(), "STRIP.example.");

        let q = Q::new("resp-nxdomain.example", QA).edns(1232, 0, false);
        let (_, m) = ask(proxy.addr, &q, via).await;
        assert_eq!(
            rcode(&m),
            rc::NXDOMAIN,
            "blocked after the upstream answered"
        );
        assert!(m.answers.is_empty());
        assert_blocked_ede(&m, true, "verdicts");
    }
    assert_eq!(
        up.count_name("strip.example"),
        1,
        "later answers are cache hits"
    );
    assert_eq!(up.count_name("resp-nxdomain.example"), 1);
    let hits = proxy.running().pipeline.metrics().cache_hits.get();
    assert!(hits >= 4, "{hits} cache hits");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_example_local_answers_safe_search_and_aaaa_filter() {
    let config = json!({
        "ttl": 300,
        "local": {"router.lan": ["192.168.1.1"], "www.lan": ["router.lan"]},
        "rewrite": {"www.google.com": "forcesafesearch.google.com"},
        "filter_aaaa": ["ipv4only.example"],
    });
    let (up, proxy) = setup(|c| c.plugins = vec![plugin("rewrite", "rewrite", config)]).await;
    let v6 = RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 6)));
    up.on("ipv4only.example", Reply::records(vec![(300, v6.clone())]));
    up.on(
        "www.ipv4only.example",
        Reply::records(vec![(300, v6.clone())]),
    );
    up.on("dual.example", Reply::records(vec![(300, v6.clone())]));
    up.on(
        "forcesafesearch.google.com",
        Reply::a(300, [216, 239, 38, 120]),
    );
    for via in [Via::Udp, Via::Tcp, Via::Udp] {
        // A local CNAME answer, the chain inside the local zone followed.
        let (_, m) = ask(proxy.addr, &Q::new("WWW.lan", QA), via).await;
        assert_eq!(
            answer_types(&m),
            [RecordType::CNAME, RecordType::A],
            "{m:?}"
        );
        assert_eq!(m.answers[0].name.to_string(), "WWW.lan.");
        assert_eq!(
            m.answers[1].data,
            RData::A(A(Ipv4Addr::new(192, 168, 1, 1)))
        );

        let (_, m) = ask(proxy.addr, &Q::new("www.google.com", QA), via).await;
        assert_eq!(answer_types(&m), [RecordType::CNAME, RecordType::A]);
        assert_eq!(
            m.answers[1].data,
            RData::A(A(Ipv4Addr::new(216, 239, 38, 120)))
        );

        for name in ["ipv4only.example", "www.ipv4only.example"] {
            let (_, m) = ask(proxy.addr, &Q::new(name, QAAAA), via).await;
            assert_eq!(rcode(&m), rc::NOERROR);
            assert!(
                m.answers.is_empty(),
                "{name}: AAAA filtered: {:?}",
                m.answers
            );
        }
        let (_, m) = ask(proxy.addr, &Q::new("dual.example", QAAAA), via).await;
        assert_eq!(m.answers.len(), 1, "other names keep their AAAA");
        assert_eq!(m.answers[0].data, v6);
    }
    assert_eq!(up.count_name("ipv4only.example"), 1);
    assert_eq!(up.count_name("www.google.com"), 0);
    assert_eq!(up.count_name("forcesafesearch.google.com"), 1);
    assert_eq!(up.count_name("www.lan"), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_order_first_non_pass_verdict_wins() {
    let echo = || plugin("echo", "test_echo_client", json!({}));
    let verdicts = || plugin("verdicts", "test_verdicts", json!({}));
    let up = FakeUpstream::start().await;

    let proxy = Proxy::start(&up, |c| c.plugins = vec![echo(), verdicts()]).await;
    let (_, m) = ask(proxy.addr, &Q::new("nxdomain.test", TXT), Via::Udp).await;
    assert_eq!(rcode(&m), rc::NOERROR, "echo answers first");
    assert_eq!(answer_types(&m), [RecordType::TXT]);
    // echo passes A queries: verdicts decides.
    let (_, m) = ask(
        proxy.addr,
        &Q::new("nxdomain.test", QA).edns(1232, 0, false),
        Via::Udp,
    )
    .await;
    assert_eq!(rcode(&m), rc::NXDOMAIN);
    assert_blocked_ede(&m, true, "verdicts");
    proxy.stop().await;

    let proxy = Proxy::start(&up, |c| c.plugins = vec![verdicts(), echo()]).await;
    let q = Q::new("nxdomain.test", TXT).edns(1232, 0, false);
    let (_, m) = ask(proxy.addr, &q, Via::Tcp).await;
    assert_eq!(rcode(&m), rc::NXDOMAIN, "verdicts blocks first");
    assert_blocked_ede(&m, true, "verdicts");
    // verdicts passes other names: echo decides.
    let (_, m) = ask(proxy.addr, &Q::new("other.test", TXT), Via::Tcp).await;
    assert_eq!(answer_types(&m), [RecordType::TXT]);
    let metrics = proxy.running().pipeline.metrics().render();
    assert!(
        metrics.contains(r#"wasmdns_plugin_calls_total{hook="on_query",plugin="echo"} 1"#),
        "echo is not called once verdicts blocked:\n{metrics}"
    );
    proxy.stop().await;
    assert!(up.seen().is_empty());
}

/// One UDP exchange from a socket bound to `from` (any 127.0.0.0/8 address works
/// on Linux loopback).
pub(super) async fn udp_from(from: Ipv4Addr, to: SocketAddr, q: &[u8]) -> Message {
    let sock = UdpSocket::bind((from, 0)).await.unwrap();
    sock.send_to(q, to).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    decode(&buf[..n])
}

async fn tcp_from(from: Ipv4Addr, to: SocketAddr, q: &[u8]) -> Message {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind((from, 0).into()).unwrap();
    let stream = tokio::time::timeout(WAIT, sock.connect(to))
        .await
        .expect("connect in time")
        .unwrap();
    let mut c = Tcp { stream };
    c.send(q).await;
    decode(&c.recv().await.expect("a TCP answer"))
}

fn txt_strings(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .flat_map(|r| match &r.data {
            RData::TXT(t) => t
                .txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_decisions_see_the_clients_address_and_protocol() {
    let config = json!({"block_ip": "127.0.0.2"});
    let (up, proxy) = setup(|c| c.plugins = vec![plugin("echo", "test_echo_client", config)]).await;
    let a = Q::new("client.example", QA).edns(1232, 0, false).bytes();
    let txt = Q::new("whoami.example", TXT).bytes();
    let (one, two) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));

    // Twice each: the second A is a cache hit, and policy still applies per client.
    for _ in 0..2 {
        let m = udp_from(one, proxy.addr, &a).await;
        assert_eq!(rcode(&m), rc::NOERROR);
        assert_eq!(client::ipv4s(&m), [Ipv4Addr::new(192, 0, 2, 1)]);
        let m = udp_from(two, proxy.addr, &a).await;
        assert_eq!(rcode(&m), rc::REFUSED);
        assert_blocked_ede(&m, true, "echo");
        let m = tcp_from(two, proxy.addr, &a).await;
        assert_eq!(rcode(&m), rc::REFUSED);
    }
    assert_eq!(up.count_name("client.example"), 1);

    assert_eq!(
        txt_strings(&udp_from(one, proxy.addr, &txt).await),
        ["ip=127.0.0.1", "protocol=udp"]
    );
    assert_eq!(
        txt_strings(&tcp_from(one, proxy.addr, &txt).await),
        ["ip=127.0.0.1", "protocol=tcp"]
    );
    let m = udp_from(Ipv4Addr::new(127, 0, 0, 3), proxy.addr, &txt).await;
    assert_eq!(txt_strings(&m), ["ip=127.0.0.3", "protocol=udp"]);
    proxy.stop().await;
}
