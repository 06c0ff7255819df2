//! Test support: a scriptable fake upstream, a byte-exact DNS client, the proxy harness.

pub mod client;
pub mod plugins;
pub mod proxy;
pub mod upstream;

pub use client::{decode, rcode, A, Q};
pub use proxy::Proxy;
pub use upstream::{FakeUpstream, Mode, Reply};

/// RCODE values as the wire carries them (RFC 1035 §4.1.1, RFC 6891 §9).
pub mod rc {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

/// A fake upstream plus a proxy in front of it, the set-up most tests share.
pub async fn setup(tweak: impl FnOnce(&mut wasmdns::config::Config)) -> (FakeUpstream, Proxy) {
    let up = FakeUpstream::start().await;
    let proxy = Proxy::start(&up, tweak).await;
    (up, proxy)
}
