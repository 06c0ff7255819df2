//! A DNS client with exact control of the bytes: build queries by hand, send them over
//! UDP or TCP (whole, split, byte at a time, pipelined), decode answers with hickory.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long any single exchange may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(3);

pub const A: u16 = 1;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;

/// The OPT pseudo-record of a query.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A query, built byte by byte.
#[derive(Debug, Clone)]
pub struct Q {
    pub id: u16,
    /// Header bytes 2..4 (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub flags: u16,
    /// Exactly as sent, case included; dotted, trailing dot optional.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opt: Option<Opt>,
}

impl Q {
    /// ID 0x1234, RD set, class IN, no EDNS.
    pub fn new(name: &str, qtype: u16) -> Q {
        Q {
            id: 0x1234,
            flags: 0x0100,
            name: name.to_string(),
            qtype,
            qclass: 1,
            opt: None,
        }
    }

    pub fn id(mut self, id: u16) -> Q {
        self.id = id;
        self
    }

    pub fn flags(mut self, flags: u16) -> Q {
        self.flags = flags;
        self
    }

    pub fn cd(mut self) -> Q {
        self.flags |= 0x0010;
        self
    }

    pub fn edns(mut self, size: u16, version: u8, dnssec_ok: bool) -> Q {
        self.opt = Some(Opt {
            size,
            version,
            dnssec_ok,
        });
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let arcount = u16::from(self.opt.is_some());
        let mut b = header(self.id, self.flags, 1, arcount);
        b.extend_from_slice(&encode_name(&self.name));
        b.extend_from_slice(&self.qtype.to_be_bytes());
        b.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(o) = self.opt {
            b.push(0); // root owner
            b.extend_from_slice(&41u16.to_be_bytes());
            b.extend_from_slice(&o.size.to_be_bytes());
            b.push(0); // extended RCODE
            b.push(o.version);
            b.extend_from_slice(&(if o.dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
            b.extend_from_slice(&0u16.to_be_bytes()); // RDLEN
        }
        b
    }

    /// Length of header + question in [`Q::bytes`].
    pub fn question_end(&self) -> usize {
        12 + encode_name(&self.name).len() + 4
    }
}

/// A 12-byte header with the given counts (answer and authority counts 0).
pub fn header(id: u16, flags: u16, qdcount: u16, arcount: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(512);
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&flags.to_be_bytes());
    b.extend_from_slice(&qdcount.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&arcount.to_be_bytes());
    b
}

/// Uncompressed wire form of a dotted name, terminating zero included.
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// The first QNAME of a message (uncompressed, as queries and our echoes carry it),
/// dotted with a trailing dot, case kept.
pub fn raw_qname(msg: &[u8]) -> Option<String> {
    let mut pos = 12;
    let mut out = String::new();
    loop {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        out.push_str(std::str::from_utf8(label).ok()?);
        out.push('.');
        pos += 1 + len;
    }
    if out.is_empty() {
        out.push('.');
    }
    Some(out)
}

pub fn decode(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).unwrap_or_else(|e| panic!("undecodable answer {bytes:02x?}: {e}"))
}

/// The full (extended) RCODE.
pub fn rcode(m: &Message) -> u16 {
    u16::from(m.metadata.response_code)
}

pub fn id_of(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// The IPv4 addresses in the answer section.
pub fn ipv4s(m: &Message) -> Vec<std::net::Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// The largest TTL over all sections except OPT.
pub fn max_ttl(m: &Message) -> u32 {
    m.answers
        .iter()
        .chain(&m.authorities)
        .map(|r| r.ttl)
        .max()
        .expect("a record")
}

async fn udp_socket(to: SocketAddr) -> UdpSocket {
    let local = if to.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    UdpSocket::bind(local).await.unwrap()
}

/// Sends one datagram and waits up to `wait` for the answer.
pub async fn udp_maybe(to: SocketAddr, query: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = udp_socket(to).await;
    sock.send_to(query, to).await.unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) if from == to => return Some(buf[..n].to_vec()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// One UDP exchange; fails the test when nothing comes back within [`WAIT`].
pub async fn udp(to: SocketAddr, query: &[u8]) -> Vec<u8> {
    udp_maybe(to, query, WAIT)
        .await
        .unwrap_or_else(|| panic!("no UDP answer from {to} within {WAIT:?}"))
}

/// One TCP exchange on a fresh connection.
pub async fn tcp(to: SocketAddr, query: &[u8]) -> Vec<u8> {
    let mut c = Tcp::connect(to).await;
    c.send(query).await;
    c.recv().await.expect("a TCP answer")
}

/// A client TCP connection with RFC 7766 framing.
pub struct Tcp {
    pub stream: TcpStream,
}

impl Tcp {
    pub async fn connect(to: SocketAddr) -> Tcp {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(to))
            .await
            .expect("connect in time")
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        Tcp { stream }
    }

    pub fn frame(msg: &[u8]) -> Vec<u8> {
        let mut f = (msg.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(msg);
        f
    }

    pub async fn send(&mut self, msg: &[u8]) {
        self.stream.write_all(&Tcp::frame(msg)).await.unwrap();
    }

    /// Writes raw bytes; errors (a peer that closed) show up as a missing answer.
    pub async fn stream_write(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    /// Writes raw bytes in chunks of `chunk` bytes, pausing between them so each
    /// arrives as its own segment.
    pub async fn send_chunked(&mut self, bytes: &[u8], chunk: usize, pause: Duration) {
        for piece in bytes.chunks(chunk) {
            self.stream.write_all(piece).await.unwrap();
            self.stream.flush().await.unwrap();
            tokio::time::sleep(pause).await;
        }
    }

    /// The next framed message; `None` on EOF, reset or after [`WAIT`].
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.recv_within(WAIT).await
    }

    pub async fn recv_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let read = async {
            let mut len = [0u8; 2];
            self.stream.read_exact(&mut len).await.ok()?;
            let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
            self.stream.read_exact(&mut msg).await.ok()?;
            Some(msg)
        };
        tokio::time::timeout(wait, read).await.ok().flatten()
    }

    /// Whether the peer closes (EOF or reset) within `wait`, without sending anything.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(wait, self.stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}
