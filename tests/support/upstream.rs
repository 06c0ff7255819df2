//! A real in-process fake upstream: UDP and TCP on one 127.0.0.1 port, scriptable per name.
//!
//! Queries are decoded and answers encoded with hickory-proto, so the proxy is checked
//! against an independent implementation of the wire format. Every query received is
//! recorded (protocol, ID, source, QNAME exactly as sent, flags) so tests can assert what
//! reached the upstream, and what did not (cache hits).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;

use super::client::raw_qname;

/// The address forged answers claim for every name: a client must never see it.
pub const POISON: Ipv4Addr = Ipv4Addr::new(6, 6, 6, 6);

/// How the upstream misbehaves (or not) for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer once, correctly.
    Normal,
    /// Never answer.
    Drop,
    /// Over UDP: TC=1 and no records. Over TCP: the full answer.
    Truncate,
    /// Over UDP: answers with a wrong ID, a wrong question and from another port
    /// (all carrying [`POISON`]), then the right answer.
    Forge,
    /// Over UDP: garbage bytes (one with the right ID), then the right answer.
    Garbage,
    /// Only garbage bytes, never a valid answer.
    GarbageOnly,
    /// Only answers to another question (right ID), never the right one.
    WrongQuestionOnly,
    /// Over UDP: the right answer cut in half (no TC), then the whole answer.
    CutShort,
}

/// What the upstream answers for a name.
#[derive(Debug, Clone)]
pub struct Reply {
    pub rcode: ResponseCode,
    /// Answer records, owned by the question's name: (TTL, data).
    pub answers: Vec<(u32, RData)>,
    /// An SOA in the authority section: (its TTL, its MINIMUM).
    pub soa: Option<(u32, u32)>,
    pub delay: Duration,
    pub mode: Mode,
}

impl Reply {
    pub fn a(ttl: u32, ip: [u8; 4]) -> Reply {
        Reply::records(vec![(ttl, RData::A(A(Ipv4Addr::from(ip))))])
    }

    pub fn records(answers: Vec<(u32, RData)>) -> Reply {
        Reply {
            rcode: ResponseCode::NoError,
            answers,
            soa: None,
            delay: Duration::ZERO,
            mode: Mode::Normal,
        }
    }

    /// `n` TXT records of 60 bytes each: about 75 bytes per record on the wire.
    pub fn many_txt(n: usize, ttl: u32) -> Reply {
        let answers = (0..n)
            .map(|i| {
                let text = format!("{i:03}-{}", "x".repeat(56));
                (ttl, RData::TXT(TXT::new(vec![text])))
            })
            .collect();
        Reply::records(answers)
    }

    pub fn nxdomain(soa_ttl: u32, minimum: u32) -> Reply {
        Reply {
            rcode: ResponseCode::NXDomain,
            soa: Some((soa_ttl, minimum)),
            ..Reply::records(Vec::new())
        }
    }

    pub fn nodata(soa_ttl: u32, minimum: u32) -> Reply {
        Reply {
            soa: Some((soa_ttl, minimum)),
            ..Reply::records(Vec::new())
        }
    }

    pub fn rcode(rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            ..Reply::records(Vec::new())
        }
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn mode(mut self, mode: Mode) -> Reply {
        self.mode = mode;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

/// One query as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub proto: Proto,
    pub id: u16,
    pub src: SocketAddr,
    /// QNAME exactly as sent (case kept), dotted, trailing dot.
    pub qname: String,
    pub qtype: u16,
    pub rd: bool,
    pub cd: bool,
    pub edns: Option<EdnsSeen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdnsSeen {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

#[derive(Default)]
struct State {
    by_name: Mutex<HashMap<String, Reply>>,
    default: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
    /// Records queries but answers none (a dead or unreachable upstream).
    silent: std::sync::atomic::AtomicBool,
}

impl State {
    fn reply_for(&self, qname: &str) -> Reply {
        if self.silent.load(std::sync::atomic::Ordering::Relaxed) {
            return Reply::a(0, [0, 0, 0, 0]).mode(Mode::Drop);
        }
        let key = qname.to_ascii_lowercase();
        if let Some(r) = self.by_name.lock().unwrap().get(&key) {
            return r.clone();
        }
        self.default
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| Reply::a(300, [192, 0, 2, 1]))
    }
}

/// The fake upstream; stops when dropped.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Binds UDP and TCP on the same free port of 127.0.0.1 and starts serving.
    pub async fn start() -> FakeUpstream {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().unwrap();
        let state = Arc::new(State::default());
        let udp = Arc::new(udp);
        let tasks = vec![
            tokio::spawn(serve_udp(udp, Arc::clone(&state))),
            tokio::spawn(serve_tcp(tcp, Arc::clone(&state))),
        ];
        FakeUpstream { addr, state, tasks }
    }

    /// Scripts the reply for `name` (case-insensitive, with or without the trailing dot).
    pub fn on(&self, name: &str, reply: Reply) {
        let mut key = name.to_ascii_lowercase();
        if !key.ends_with('.') {
            key.push('.');
        }
        self.state.by_name.lock().unwrap().insert(key, reply);
    }

    /// The reply for every name not scripted with [`FakeUpstream::on`].
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }

    /// Silences the upstream (it keeps recording queries but answers none), or
    /// brings it back.
    pub fn silence(&self, on: bool) {
        self.state
            .silent
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn count(&self, proto: Proto) -> usize {
        self.seen().iter().filter(|s| s.proto == proto).count()
    }

    /// Queries received for `name` over any protocol (case-insensitive).
    pub fn count_name(&self, name: &str) -> usize {
        let mut want = name.to_ascii_lowercase();
        if !want.ends_with('.') {
            want.push('.');
        }
        self.seen()
            .iter()
            .filter(|s| s.qname.to_ascii_lowercase() == want)
            .count()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Bursts of thousands of queries must not overflow the default buffer.
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(8 << 20);
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

async fn serve_udp(sock: Arc<UdpSocket>, state: Arc<State>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, src)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Some((query, seen)) = decode_query(&buf[..n], Proto::Udp, src) else {
            continue;
        };
        let reply = state.reply_for(&seen.qname);
        state.seen.lock().unwrap().push(seen);
        tokio::spawn(answer_udp(Arc::clone(&sock), src, query, reply));
    }
}

async fn answer_udp(sock: Arc<UdpSocket>, src: SocketAddr, query: Message, reply: Reply) {
    tokio::time::sleep(reply.delay).await;
    let good = encode(&query, &reply, false);
    let pause = Duration::from_millis(20);
    match reply.mode {
        Mode::Normal => {
            let _ = sock.send_to(&good, src).await;
        }
        Mode::Drop => {}
        Mode::Truncate => {
            let _ = sock.send_to(&encode(&query, &reply, true), src).await;
        }
        Mode::Forge => {
            for forged in forgeries(&query, &reply) {
                let _ = sock.send_to(&forged, src).await;
            }
            let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let _ = other.send_to(&poisoned(&query, &reply), src).await;
            tokio::time::sleep(pause).await;
            let _ = sock.send_to(&good, src).await;
        }
        Mode::Garbage | Mode::GarbageOnly => {
            for g in garbage(query.metadata.id) {
                let _ = sock.send_to(&g, src).await;
            }
            if reply.mode == Mode::Garbage {
                tokio::time::sleep(pause).await;
                let _ = sock.send_to(&good, src).await;
            }
        }
        Mode::WrongQuestionOnly => {
            let _ = sock.send_to(&wrong_question(&query, &reply), src).await;
        }
        Mode::CutShort => {
            let _ = sock.send_to(&good[..good.len() / 2], src).await;
            tokio::time::sleep(pause).await;
            let _ = sock.send_to(&good, src).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, src)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_tcp_conn(stream, src, Arc::clone(&state)));
    }
}

async fn serve_tcp_conn(stream: TcpStream, src: SocketAddr, state: Arc<State>) {
    let (mut rd, wr) = stream.into_split();
    let wr = Arc::new(AsyncMutex::new(wr));
    loop {
        let mut len = [0u8; 2];
        if rd.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        if rd.read_exact(&mut msg).await.is_err() {
            return;
        }
        let Some((query, seen)) = decode_query(&msg, Proto::Tcp, src) else {
            continue;
        };
        let reply = state.reply_for(&seen.qname);
        state.seen.lock().unwrap().push(seen);
        let wr = Arc::clone(&wr);
        tokio::spawn(async move {
            tokio::time::sleep(reply.delay).await;
            let out = match reply.mode {
                Mode::Drop | Mode::WrongQuestionOnly => return,
                Mode::GarbageOnly => garbage(query.metadata.id).remove(1),
                _ => encode(&query, &reply, false),
            };
            let mut framed = (out.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&out);
            let _ = wr.lock().await.write_all(&framed).await;
        });
    }
}

fn decode_query(bytes: &[u8], proto: Proto, src: SocketAddr) -> Option<(Message, Seen)> {
    let query = Message::from_vec(bytes).ok()?;
    let q = query.queries.first()?;
    let seen = Seen {
        proto,
        id: query.metadata.id,
        src,
        qname: raw_qname(bytes)?,
        qtype: u16::from(q.query_type),
        rd: query.metadata.recursion_desired,
        cd: query.metadata.checking_disabled,
        edns: query.edns.as_ref().map(|e| EdnsSeen {
            payload: e.max_payload(),
            version: e.version(),
            dnssec_ok: e.flags().dnssec_ok,
        }),
    };
    Some((query, seen))
}

/// The answer to `query` as scripted; `truncated` sets TC and leaves the records out.
fn encode(query: &Message, reply: &Reply, truncated: bool) -> Vec<u8> {
    let mut m = Message::response(query.metadata.id, OpCode::Query);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.checking_disabled = query.metadata.checking_disabled;
    m.metadata.response_code = reply.rcode;
    m.metadata.truncation = truncated;
    let q = query.queries[0].clone();
    let name = q.name.clone();
    m.add_query(q);
    if !truncated {
        for (ttl, data) in &reply.answers {
            m.add_answer(Record::from_rdata(name.clone(), *ttl, data.clone()));
        }
        if let Some((ttl, minimum)) = reply.soa {
            m.add_authority(soa_record(&name, ttl, minimum));
        }
    }
    if let Some(e) = &query.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(e.flags().dnssec_ok);
        m.set_edns(edns);
    }
    m.to_vec().expect("encodable answer")
}

fn soa_record(qname: &Name, ttl: u32, minimum: u32) -> Record {
    let zone = if qname.num_labels() > 1 {
        qname.base_name()
    } else {
        qname.clone()
    };
    let soa = SOA::new(
        Name::from_ascii("ns1.invalid.").unwrap(),
        Name::from_ascii("hostmaster.invalid.").unwrap(),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(zone, ttl, RData::SOA(soa))
}

/// The scripted answer with every A record replaced by [`POISON`].
fn poisoned(query: &Message, reply: &Reply) -> Vec<u8> {
    let mut bad = reply.clone();
    bad.rcode = ResponseCode::NoError;
    bad.answers = vec![(86400, RData::A(A(POISON)))];
    encode(query, &bad, false)
}

/// Poisoned answers a blind spoofer would send: wrong ID, and right ID with a wrong question.
fn forgeries(query: &Message, reply: &Reply) -> Vec<Vec<u8>> {
    let mut wrong_id = query.clone();
    wrong_id.metadata.id = query.metadata.id ^ 0x5a5a;
    vec![poisoned(&wrong_id, reply), wrong_question(query, reply)]
}

fn wrong_question(query: &Message, reply: &Reply) -> Vec<u8> {
    let mut other = query.clone();
    other.queries[0].name = Name::from_ascii("forged.invalid.").unwrap();
    poisoned(&other, reply)
}

/// Junk: random-looking bytes, a header with our ID followed by rubbish, a bare header.
fn garbage(id: u16) -> Vec<Vec<u8>> {
    let mut junk: Vec<u8> = (0..48u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    junk[2] |= 0x80;
    let mut same_id = id.to_be_bytes().to_vec();
    same_id.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    same_id.extend_from_slice(&[0x3f, 0xff, 0xc0, 0x0c, 0xc0, 0x0c, 0xff]);
    let mut header_only = id.to_be_bytes().to_vec();
    header_only.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    vec![junk, same_id, header_only]
}
