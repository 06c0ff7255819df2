//! Starts the real proxy in-process on 127.0.0.1:0 with a config tweaked per test.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wasmdns::app::Running;
use wasmdns::config::Config;

use super::upstream::FakeUpstream;

/// Defaults, changed only where tests need bounded, fast, local behaviour.
pub fn config(upstream: SocketAddr) -> Config {
    let mut c = Config::defaults();
    c.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.server.udp_workers = 1;
    c.server.shutdown_grace = Duration::from_secs(2);
    c.upstream.servers = vec![upstream];
    c.upstream.attempt_timeout = Duration::from_millis(300);
    c.upstream.deadline = Duration::from_millis(1000);
    c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    c.plugins.clear();
    c
}

/// How long a start may take before the test calls it hung (see `start_with`).
const START_GUARD: Duration = Duration::from_secs(120);

/// A running proxy; cancelled on drop so a failing test does not leak it.
pub struct Proxy {
    running: Option<Running>,
    token: CancellationToken,
    /// First DNS address (UDP and TCP).
    pub addr: SocketAddr,
    pub addrs: Vec<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl Proxy {
    /// The proxy forwarding to `upstream`, with `tweak` applied to the test config.
    pub async fn start(upstream: &FakeUpstream, tweak: impl FnOnce(&mut Config)) -> Proxy {
        let mut c = config(upstream.addr);
        tweak(&mut c);
        Proxy::start_with(c).await
    }

    pub async fn start_with(config: Config) -> Proxy {
        // A hang guard, not a speed check. Starting compiles the plugins when the
        // precompiled cache is cold (a fresh machine, a changed component), and all
        // proxies of this test process share wasmtime's parallel-compilation
        // threads: while the language tests compile their 12-18 MB Python and JS
        // components, a small plugin's compile waits behind them for many seconds.
        let running = tokio::time::timeout(START_GUARD, Running::start(config))
            .await
            .expect("proxy starts within START_GUARD")
            .expect("proxy starts");
        let token = running.shutdown_token();
        let addrs = running.dns_addrs.clone();
        for a in &addrs {
            assert_ne!(a.port(), 0, "dns_addrs must carry the bound port");
        }
        Proxy {
            addr: addrs[0],
            admin: running.admin_addr,
            addrs,
            running: Some(running),
            token,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// Graceful shutdown; fails the test if the drain takes more than 5 s.
    pub async fn stop(mut self) {
        let running = self.running.take().expect("running");
        tokio::time::timeout(Duration::from_secs(5), running.shutdown())
            .await
            .expect("shutdown completes within 5 s");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.token.cancel();
    }
}
