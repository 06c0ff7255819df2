//! Test plugin `test_echo_client.wasm`, for per-client decisions:
//! - a query from `block_ip` (config) is blocked with REFUSED, whatever it asks;
//! - a TXT query from anyone else is answered with one TXT record holding
//!   `ip=<client ip>`, `protocol=<udp|tcp>` (two character-strings);
//! - anything else passes.
//!
//! Every verdict depends on the client, so it keeps `query_reuse`'s default
//! `Reuse::Once`: the host must call it for each query, never reuse a verdict.
//!
//! ```toml
//! [plugin.config]
//! block_ip = "127.0.0.2"
//! ```

use std::net::IpAddr;

use serde::Deserialize;
use wasmdns_plugin_sdk::{
    export_plugin, rtype, Block, Client, Plugin, QueryAction, Question, RData, Record,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub block_ip: Option<IpAddr>,
}

pub struct EchoClient {
    block_ip: Option<IpAddr>,
}

impl Plugin for EchoClient {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(EchoClient {
            block_ip: config.block_ip,
        })
    }

    fn on_query(&self, question: &Question, client: &Client) -> QueryAction {
        if self.block_ip == Some(client.ip) {
            return QueryAction::Block(Block::Refused);
        }
        if question.qtype != rtype::TXT {
            return QueryAction::Pass;
        }
        let txt = vec![
            format!("ip={}", client.ip),
            format!("protocol={}", client.protocol.as_str()),
        ];
        QueryAction::Answer(vec![Record::answer(0, RData::Txt(txt))])
    }
}

export_plugin!(EchoClient);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmdns_plugin_sdk::{load, Protocol, Reuse};

    fn client(ip: &str, protocol: Protocol) -> Client {
        Client {
            ip: ip.parse().unwrap(),
            port: 40000,
            protocol,
        }
    }

    #[test]
    fn txt_echoes_ip_and_protocol() {
        let p = load::<EchoClient>("{}").unwrap();
        let q = Question::new("whoami.test", rtype::TXT);
        let txt = |ip: &str, proto: &str| {
            QueryAction::Answer(vec![Record::answer(
                0,
                RData::Txt(vec![format!("ip={ip}"), format!("protocol={proto}")]),
            )])
        };
        assert_eq!(
            p.on_query(&q, &client("127.0.0.1", Protocol::Udp)),
            txt("127.0.0.1", "udp")
        );
        assert_eq!(
            p.on_query(&q, &client("::1", Protocol::Tcp)),
            txt("::1", "tcp")
        );
    }

    #[test]
    fn only_the_configured_client_is_blocked() {
        let p = load::<EchoClient>(r#"{"block_ip":"127.0.0.2"}"#).unwrap();
        let a = Question::new("example.com", rtype::A);
        assert_eq!(
            p.on_query(&a, &client("127.0.0.2", Protocol::Udp)),
            QueryAction::Block(Block::Refused)
        );
        assert_eq!(
            p.on_query(&a, &client("127.0.0.1", Protocol::Udp)),
            QueryAction::Pass
        );
        let txt = Question::new("x.test", rtype::TXT);
        assert_eq!(
            p.on_query(&txt, &client("127.0.0.2", Protocol::Tcp)),
            QueryAction::Block(Block::Refused)
        );
    }

    #[test]
    fn verdicts_are_never_reused_across_clients() {
        let p = load::<EchoClient>(r#"{"block_ip":"127.0.0.2"}"#).unwrap();
        for (qtype, ip) in [(rtype::TXT, "127.0.0.1"), (rtype::A, "127.0.0.2")] {
            let q = Question::new("whoami.test", qtype);
            let action = p.on_query(&q, &client(ip, Protocol::Udp));
            assert_ne!(action, QueryAction::Pass);
            assert_eq!(p.query_reuse(&q, &action), Reuse::Once, "{ip}");
        }
    }

    #[test]
    fn bad_ip_is_an_init_error() {
        assert!(load::<EchoClient>(r#"{"block_ip":"nope"}"#).is_err());
    }
}
