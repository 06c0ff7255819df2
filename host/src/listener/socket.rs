//! Socket set-up: a UDP socket group and a TCP listener sharing one port per address.
//!
//! UDP sockets use SO_REUSEPORT so every worker has its own socket and the kernel
//! spreads datagrams across them; TCP uses only SO_REUSEADDR, so a second proxy
//! cannot silently share our TCP port. IPv6 sockets are V6ONLY, so `[::1]:53` and
//! `127.0.0.1:53` are independent bindings.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Socket buffer size we ask for on UDP sockets: bursts queue in the kernel,
/// not as drops. Best effort: the kernel caps it at `net.core.*mem_max`.
const UDP_SOCKET_BUFFER: usize = 4 << 20;
/// Pending connections the kernel queues for `accept`.
const TCP_BACKLOG: i32 = 1024;
/// Attempts to find a port free for both UDP and TCP when the config says port 0.
const PORT_ATTEMPTS: usize = 8;

/// Every socket bound for one configured address.
#[derive(Debug)]
pub struct BoundAddr {
    /// The configured address with the port resolved.
    pub addr: SocketAddr,
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: std::net::TcpListener,
}

/// Which socket failed to bind, for the caller's error.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {proto} {addr}: {source}")]
pub struct BindError {
    pub proto: &'static str,
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// Binds `udp_workers` (at least one) UDP sockets and one TCP listener on `addr`.
/// With port 0 the first UDP socket picks the port and the rest follow it; if
/// TCP finds that port taken, the whole group is retried on a new port.
pub fn bind_addr(addr: SocketAddr, udp_workers: usize) -> Result<BoundAddr, BindError> {
    let udp_err = |addr, source| BindError {
        proto: "udp",
        addr,
        source,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let first = udp_socket(addr).map_err(|e| udp_err(addr, e))?;
        let port_addr = first.local_addr().map_err(|e| udp_err(addr, e))?;
        let tcp = match tcp_listener(port_addr) {
            Ok(tcp) => tcp,
            Err(e)
                if addr.port() == 0
                    && e.kind() == io::ErrorKind::AddrInUse
                    && attempt < PORT_ATTEMPTS =>
            {
                continue;
            }
            Err(e) => {
                return Err(BindError {
                    proto: "tcp",
                    addr: port_addr,
                    source: e,
                })
            }
        };
        let mut udp = Vec::with_capacity(udp_workers.max(1));
        udp.push(first);
        for _ in 1..udp_workers.max(1) {
            udp.push(udp_socket(port_addr).map_err(|e| udp_err(port_addr, e))?);
        }
        return Ok(BoundAddr {
            addr: port_addr,
            udp,
            tcp,
        });
    }
}

/// UDP worker count for a configured value: 0 means one per CPU.
pub fn udp_workers(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = new_socket(addr, Type::DGRAM, Protocol::UDP)?;
    socket.set_reuse_port(true)?;
    // Best effort: a smaller buffer is still a working socket.
    if let Err(e) = socket.set_recv_buffer_size(UDP_SOCKET_BUFFER) {
        tracing::debug!(%addr, error = %e, "SO_RCVBUF not raised");
    }
    if let Err(e) = socket.set_send_buffer_size(UDP_SOCKET_BUFFER) {
        tracing::debug!(%addr, error = %e, "SO_SNDBUF not raised");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = new_socket(addr, Type::STREAM, Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(TCP_BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(v6: bool) -> SocketAddr {
        if v6 {
            "[::1]:0".parse().unwrap()
        } else {
            "127.0.0.1:0".parse().unwrap()
        }
    }

    #[test]
    fn port_zero_gives_udp_and_tcp_the_same_port() {
        let bound = bind_addr(loopback(false), 3).unwrap();
        assert_ne!(bound.addr.port(), 0);
        assert_eq!(bound.udp.len(), 3);
        for s in &bound.udp {
            assert_eq!(s.local_addr().unwrap(), bound.addr);
        }
        assert_eq!(bound.tcp.local_addr().unwrap(), bound.addr);
    }

    #[test]
    fn zero_workers_still_binds_one_socket() {
        let bound = bind_addr(loopback(false), 0).unwrap();
        assert_eq!(bound.udp.len(), 1);
        assert!(udp_workers(0) >= 1);
        assert_eq!(udp_workers(5), 5);
    }

    #[test]
    fn reuseport_spreads_datagrams_over_the_group() {
        let bound = bind_addr(loopback(false), 2).unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"x", bound.addr).unwrap();
        let got = bound.udp.iter().map(|s| {
            let mut b = [0u8; 4];
            s.recv_from(&mut b).ok().map(|(n, _)| n)
        });
        assert_eq!(got.flatten().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn a_taken_tcp_port_is_a_tcp_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind_addr(addr, 1).unwrap_err();
        assert_eq!(err.proto, "tcp");
        assert_eq!(err.addr, addr);
        assert_eq!(err.source.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_fixed_port_is_not_shared_with_another_group() {
        let first = bind_addr(loopback(false), 1).unwrap();
        // UDP joins the REUSEPORT group (same user), TCP refuses: the pair fails.
        let err = bind_addr(first.addr, 1).unwrap_err();
        assert_eq!(err.proto, "tcp");
    }

    #[test]
    fn ipv6_and_ipv4_loopback_coexist_on_one_port() {
        let Ok(v6) = bind_addr(loopback(true), 1) else {
            return; // no IPv6 on this host
        };
        let v4: SocketAddr = SocketAddr::new("127.0.0.1".parse().unwrap(), v6.addr.port());
        let v4 = bind_addr(v4, 1).expect("V6ONLY keeps the families apart");
        assert_eq!(v4.addr.port(), v6.addr.port());
    }
}
