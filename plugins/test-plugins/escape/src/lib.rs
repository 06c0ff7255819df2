//! Test plugin `test_escape.wasm`: tries to leave the sandbox and reports what it
//! got, so the host's tests can check that a plugin sees no files, environment or
//! network. The first label of a TXT query picks the attempt; the answer is one
//! TXT string:
//! - `file.`: reads `/etc/hostname`, lists `/` and `.` → `file=denied` or `file=READ`;
//! - `env.`: counts environment variables and arguments → `env=<n> args=<n>`;
//! - `stdout.`: prints to stdout and stderr (must not trap) → `stdout=ok`;
//! - `tcp.<port>.` / `udp.<port>.`: connects / sends to 127.0.0.1:<port> →
//!   `tcp=denied` or `tcp=CONNECTED` (a denied import traps instead of returning).
//!
//! Anything else passes.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};

use serde::Deserialize;
use wasmdns_plugin_sdk::{
    export_plugin, rtype, Client, Plugin, QueryAction, Question, RData, Record,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

pub struct Escape;

impl Plugin for Escape {
    type Config = Config;

    fn init(_: Config) -> Result<Self, String> {
        Ok(Escape)
    }

    fn on_query(&self, question: &Question, _client: &Client) -> QueryAction {
        if question.qtype != rtype::TXT {
            return QueryAction::Pass;
        }
        let mut labels = question.name.split('.');
        let what = labels.next().unwrap_or_default();
        let port = labels.next().and_then(|p| p.parse::<u16>().ok());
        let localhost = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
        let report = match (what, port) {
            ("file", _) => file(),
            ("env", _) => format!(
                "env={} args={}",
                std::env::vars_os().count(),
                std::env::args_os().count()
            ),
            ("stdout", _) => {
                let out = writeln!(std::io::stdout(), "escape: stdout");
                let err = writeln!(std::io::stderr(), "escape: stderr");
                format!(
                    "stdout={}",
                    if out.is_ok() && err.is_ok() {
                        "ok"
                    } else {
                        "error"
                    }
                )
            }
            ("tcp", Some(p)) => match TcpStream::connect(localhost(p)) {
                Ok(_) => "tcp=CONNECTED".into(),
                Err(_) => "tcp=denied".into(),
            },
            ("udp", Some(p)) => {
                match UdpSocket::bind(localhost(0)).and_then(|s| s.send_to(b"x", localhost(p))) {
                    Ok(_) => "udp=SENT".into(),
                    Err(_) => "udp=denied".into(),
                }
            }
            _ => return QueryAction::Pass,
        };
        QueryAction::Answer(vec![Record::answer(0, RData::Txt(vec![report]))])
    }
}

fn file() -> String {
    let read = std::fs::read("/etc/hostname").is_ok()
        || std::fs::read_dir("/").is_ok()
        || std::fs::read_dir(".").is_ok()
        || std::fs::File::create("escape.txt").is_ok();
    format!("file={}", if read { "READ" } else { "denied" })
}

export_plugin!(Escape);
