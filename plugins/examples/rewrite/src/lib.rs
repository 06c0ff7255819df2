//! wasmdns example plugin `rewrite`: answers local names, rewrites names to other
//! names (the client gets a CNAME plus the upstream's answer for the target), and
//! strips AAAA records from answers for chosen domains.
//!
//! Phases: on-query answers `local`/`hosts` names and returns `rewrite` targets;
//! on-response (declared only when `filter_aaaa` is set) replaces answers that
//! carry AAAA records for a filtered name. Local and rewrite names match exactly;
//! `filter_aaaa` names match with their subdomains.

mod config;
mod local;

use wasmdns_plugin_sdk::name::{normalize, suffixes, NameMap, NameSet};
use wasmdns_plugin_sdk::{
    export_plugin, rtype, Client, Hooks, Plugin, QueryAction, Question, RData, Record,
    ResponseAction, Reuse, CLASS_IN,
};

pub use config::Config;
use local::LocalZone;

pub struct Rewrite {
    local: LocalZone,
    rewrite: NameMap<String>,
    filter_aaaa: NameSet,
}

fn name_or_err(name: &str, key: &str) -> Result<String, String> {
    normalize(name).ok_or_else(|| format!("bad config: {key}: {name:?} is not a domain name"))
}

fn load_rewrites(config: &Config, local: &LocalZone) -> Result<NameMap<String>, String> {
    let mut rewrite = NameMap::default();
    for (from, to) in &config.rewrite {
        let from = name_or_err(from, "rewrite")?;
        let to = name_or_err(to, &format!("rewrite.{from:?}"))?;
        if local.contains(&from) {
            return Err(format!(
                "bad config: {from:?} is both in rewrite and in local/hosts"
            ));
        }
        if from == to {
            return Err(format!("bad config: rewrite.{from:?} points to itself"));
        }
        rewrite.insert(from, to);
    }
    Ok(rewrite)
}

impl Plugin for Rewrite {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        let local = LocalZone::from_config(&config)?;
        let rewrite = load_rewrites(&config, &local)?;
        let filter_aaaa = config
            .filter_aaaa
            .iter()
            .map(|name| name_or_err(name, "filter_aaaa"))
            .collect::<Result<_, _>>()?;
        Ok(Rewrite {
            local,
            rewrite,
            filter_aaaa,
        })
    }

    /// Only the phases the config gives work to are called.
    fn hooks(&self) -> Hooks {
        Hooks {
            on_query: !self.local.is_empty() || !self.rewrite.is_empty(),
            on_response: !self.filter_aaaa.is_empty(),
        }
    }

    fn on_query(&self, question: &Question, _client: &Client) -> QueryAction {
        if question.qclass != CLASS_IN {
            return QueryAction::Pass;
        }
        if let Some(target) = self.rewrite.get(&question.name) {
            return QueryAction::Rewrite(target.clone());
        }
        self.local.answer(&question.name, question.qtype)
    }

    /// `on_query` reads only the question and the config (never the client), so
    /// each of its verdicts holds for the question until the next reload.
    fn query_reuse(&self, _question: &Question, _action: &QueryAction) -> Reuse {
        Reuse::UNTIL_RELOAD
    }

    fn on_response(
        &self,
        question: &Question,
        _client: &Client,
        _rcode: u16,
        answers: &[Record],
    ) -> ResponseAction {
        let has_aaaa = answers.iter().any(|r| r.data.rtype() == rtype::AAAA);
        if !has_aaaa || !suffixes(&question.name).any(|s| self.filter_aaaa.contains(s)) {
            return ResponseAction::Pass;
        }
        let kept = answers
            .iter()
            .filter(|r| !matches!(r.data, RData::Aaaa(_)))
            .cloned()
            .collect();
        ResponseAction::Replace(kept)
    }
}

export_plugin!(Rewrite);

#[cfg(test)]
mod tests;
