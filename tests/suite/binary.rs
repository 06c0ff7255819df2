//! The `wasmdns` binary: `check` names the file and the key; `run` serves and exits 0 on SIGTERM.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::client;
use crate::support::plugins::{artefacts, repo_root};
use crate::support::{decode, rc, rcode, FakeUpstream, A, Q};

const BIN: &str = env!("CARGO_BIN_EXE_wasmdns");

#[test]
fn check_rejects_a_bad_file_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:0\"]\nno_such_key = 1\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("broken.toml"), "file not named: {stderr}");
    assert!(stderr.contains("no_such_key"), "key not named: {stderr}");

    std::fs::write(&path, "[upstream]\nservers = [\"not an address\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("servers"), "key not named: {stderr}");
}

#[test]
fn check_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.toml");
    std::fs::write(&path, "[server]\nlisten = [\"127.0.0.1:0\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port free for both UDP and TCP right now (the binary cannot report its own).
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_then_exits_0_on_sigterm() {
    let up = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    let listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = format!(
        "[server]\nlisten = [\"{listen}\"]\n[upstream]\nservers = [\"{}\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        up.addr
    );
    std::fs::write(&path, config).unwrap();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["run", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );

    let q = Q::new("bin.example", A).bytes();
    let answer = child.first_answer(listen, &q, Duration::from_secs(4)).await;
    assert_eq!(rcode(&answer), rc::NOERROR);

    let pid = child.0.id() as libc::pid_t;
    // SAFETY: kill(2) on our own, still running child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(4);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 4 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status:?}"
    );
}

/// The README's plugin example: `run --config config/examples/blocklist.toml` finds
/// the component relative to the config file, blocks doubleclick.net and its
/// subdomains with NXDOMAIN (and an RFC 8914 error for EDNS clients) and forwards
/// everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_the_blocklist_example_blocks_doubleclick() {
    artefacts(); // the example config points at the built component
    let up = FakeUpstream::start().await;
    let listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["run", "--config", "config/examples/blocklist.toml"])
            .arg("--upstream")
            .arg(up.addr.to_string())
            .arg("--listen")
            .arg(listen.to_string())
            // The example's admin port (9153) may be taken on a shared machine.
            .args(["--admin", "127.0.0.1:0"])
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let probe = Q::new("example.com", A).bytes();
    let answer = child
        .first_answer(listen, &probe, Duration::from_secs(20))
        .await;
    assert_eq!(rcode(&answer), rc::NOERROR);
    assert_eq!(
        client::ipv4s(&answer),
        [std::net::Ipv4Addr::new(192, 0, 2, 1)]
    );
    for name in [
        "doubleclick.net",
        "ads.DoubleClick.net",
        "a.b.doubleclick.net",
    ] {
        let m = decode(&client::udp(listen, &Q::new(name, A).edns(1232, 0, false).bytes()).await);
        assert_eq!(rcode(&m), rc::NXDOMAIN, "{name}");
        crate::suite::plugins::assert_blocked_ede(&m, true, "blocklist");
        let m = decode(&client::tcp(listen, &Q::new(name, A).bytes()).await);
        assert_eq!(rcode(&m), rc::NXDOMAIN, "{name} over TCP");
    }
    for name in ["notdoubleclick.net", "doubleclick.net.example"] {
        let m = decode(&client::udp(listen, &Q::new(name, A).bytes()).await);
        assert_eq!(rcode(&m), rc::NOERROR, "{name} is forwarded");
    }
    assert_eq!(up.count_name("doubleclick.net"), 0);
    assert_eq!(up.count_name("notdoubleclick.net"), 1);
}

/// Kills the child if the test fails before it exits on its own.
struct KillOnDrop(std::process::Child);

impl KillOnDrop {
    /// Polls `listen` with `query` until the binary answers (it has to load and
    /// bind first); fails if it exits or stays silent for `within`.
    async fn first_answer(
        &mut self,
        listen: SocketAddr,
        query: &[u8],
        within: Duration,
    ) -> hickory_proto::op::Message {
        let deadline = Instant::now() + within;
        loop {
            if let Some(a) = client::udp_maybe(listen, query, Duration::from_millis(100)).await {
                return decode(&a);
            }
            assert!(
                Instant::now() < deadline,
                "binary never answered on {listen}"
            );
            assert!(self.0.try_wait().unwrap().is_none(), "binary exited early");
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
