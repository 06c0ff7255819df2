//! Test plugin `test_verdicts.wasm`: the first label of the question picks the
//! verdict, so one component drives every verdict kind in the host's tests.
//!
//! | first label        | on-query verdict                                     |
//! |--------------------|------------------------------------------------------|
//! | `nxdomain`         | block(nxdomain)                                      |
//! | `refused`          | block(refused)                                       |
//! | `null-ip`          | block(null-ip)                                       |
//! | `rcode-N`          | block(rcode(N)), e.g. `rcode-2` = SERVFAIL           |
//! | `answer`           | answer: A 192.0.2.1, AAAA 2001:db8::1, TXT "wasmdns" (TTL 60), all owned by the question's name |
//! | `empty`            | answer with no records (NODATA)                      |
//! | `rewrite`          | rewrite to the rest of the name (`rewrite.example.com` → `example.com`) |
//! | anything else      | pass                                                 |
//!
//! on-response (declared too): for `strip.*` it replaces the answer with its
//! records minus AAAA; for `resp-nxdomain.*` it blocks with NXDOMAIN; else pass.

use std::net::{Ipv4Addr, Ipv6Addr};

use wasmdns_plugin_sdk::{
    export_plugin, Block, Client, Hooks, NoConfig, Plugin, QueryAction, Question, RData, Record,
    ResponseAction,
};

pub struct Verdicts;

fn split_first(name: &str) -> (&str, &str) {
    name.split_once('.').unwrap_or((name, ""))
}

impl Plugin for Verdicts {
    type Config = NoConfig;

    fn init(_config: NoConfig) -> Result<Self, String> {
        Ok(Verdicts)
    }

    fn hooks(&self) -> Hooks {
        Hooks::BOTH
    }

    fn on_query(&self, question: &Question, _c: &Client) -> QueryAction {
        let (first, rest) = split_first(&question.name);
        match first {
            "nxdomain" => QueryAction::Block(Block::NxDomain),
            "refused" => QueryAction::Block(Block::Refused),
            "null-ip" => QueryAction::Block(Block::NullIp),
            "answer" => QueryAction::Answer(vec![
                Record::answer(60, RData::A(Ipv4Addr::new(192, 0, 2, 1))),
                Record::answer(
                    60,
                    RData::Aaaa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                ),
                Record::answer(60, RData::Txt(vec!["wasmdns".into()])),
            ]),
            "empty" => QueryAction::Answer(Vec::new()),
            "rewrite" if !rest.is_empty() => QueryAction::Rewrite(rest.to_owned()),
            _ => match first.strip_prefix("rcode-").and_then(|n| n.parse().ok()) {
                Some(code) => QueryAction::Block(Block::Rcode(code)),
                None => QueryAction::Pass,
            },
        }
    }

    fn on_response(
        &self,
        question: &Question,
        _c: &Client,
        _rcode: u16,
        answers: &[Record],
    ) -> ResponseAction {
        match split_first(&question.name).0 {
            "strip" => ResponseAction::Replace(
                answers
                    .iter()
                    .filter(|r| !matches!(r.data, RData::Aaaa(_)))
                    .cloned()
                    .collect(),
            ),
            "resp-nxdomain" => ResponseAction::Block(Block::NxDomain),
            _ => ResponseAction::Pass,
        }
    }
}

export_plugin!(Verdicts);

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(name: &str) -> QueryAction {
        Verdicts.on_query(
            &Question::new(name, 1),
            &Client::udp("127.0.0.1".parse().unwrap()),
        )
    }

    #[test]
    fn names_select_verdicts() {
        assert_eq!(ask("nxdomain.test"), QueryAction::Block(Block::NxDomain));
        assert_eq!(ask("refused.test"), QueryAction::Block(Block::Refused));
        assert_eq!(ask("null-ip.test"), QueryAction::Block(Block::NullIp));
        assert_eq!(ask("rcode-2.test"), QueryAction::Block(Block::Rcode(2)));
        assert_eq!(ask("rcode-x.test"), QueryAction::Pass);
        assert_eq!(ask("empty.test"), QueryAction::Answer(vec![]));
        assert_eq!(
            ask("rewrite.example.com"),
            QueryAction::Rewrite("example.com".into())
        );
        assert_eq!(ask("rewrite"), QueryAction::Pass);
        assert_eq!(ask("other.test"), QueryAction::Pass);
        match ask("answer.test") {
            QueryAction::Answer(r) => assert_eq!(r.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_verdicts() {
        let c = Client::udp("127.0.0.1".parse().unwrap());
        let answers = vec![
            Record::answer(5, RData::Aaaa(Ipv6Addr::LOCALHOST)),
            Record::answer(5, RData::A(Ipv4Addr::LOCALHOST)),
        ];
        let strip = Verdicts.on_response(&Question::new("strip.test", 28), &c, 0, &answers);
        assert_eq!(strip, ResponseAction::Replace(vec![answers[1].clone()]));
        let nx = Verdicts.on_response(&Question::new("resp-nxdomain.test", 1), &c, 0, &answers);
        assert_eq!(nx, ResponseAction::Block(Block::NxDomain));
        assert_eq!(
            Verdicts.on_response(&Question::new("x.test", 1), &c, 0, &answers),
            ResponseAction::Pass
        );
        assert_eq!(Verdicts.hooks(), Hooks::BOTH);
    }
}
