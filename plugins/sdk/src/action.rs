//! Verdicts a plugin returns and the hooks it asks for.

use crate::types::Record;

/// How a blocked query is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Block {
    /// NXDOMAIN, no records.
    NxDomain,
    /// REFUSED.
    Refused,
    /// A → 0.0.0.0, AAAA → ::, other types NOERROR with no records.
    NullIp,
    /// Any response code (e.g. `rcode::SERVFAIL`).
    Rcode(u16),
}

/// Verdict of the on-query phase. The first plugin in config order that does not
/// pass decides; later plugins, the cache and the upstream are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryAction {
    /// Not my business: the next plugin decides, then the cache and the upstream.
    Pass,
    /// Answer with a block.
    Block(Block),
    /// Answer with these records (NOERROR; empty = NODATA).
    Answer(Vec<Record>),
    /// Resolve this name instead; the client gets a CNAME from its name to this one
    /// followed by the upstream's answer for it.
    Rewrite(String),
}

/// Which other queries an on-query verdict also holds for (returned by
/// [`Plugin::query_reuse`](crate::Plugin::query_reuse)).
///
/// The host may memoise a reusable verdict per question and answer later queries
/// for that question from the memo, without calling the plugin: on hot names this
/// saves the whole plugin call. Memoised verdicts are dropped when the chain is
/// reloaded, so config changes always take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reuse {
    /// This query only; the next query calls the plugin again. Right whenever the
    /// verdict depends on anything besides the question and the config: the
    /// client (address, port, protocol), the time, counters or other state the
    /// plugin keeps between calls, or randomness. The safe default.
    Once,
    /// Every query for the same question (name, qtype and qclass), from any
    /// client, for up to this many seconds (0 behaves as `Once`). Right when the
    /// verdict depends only on the question and the config, e.g. a blocklist or a
    /// static rewrite; a smaller bound suits verdicts that should be re-asked
    /// now and then (data the plugin refreshes on its own).
    Question(u32),
}

impl Reuse {
    /// For verdicts that change only when the config does: reuse until the chain
    /// is reloaded (the host drops memoised verdicts on reload).
    pub const UNTIL_RELOAD: Reuse = Reuse::Question(u32::MAX);
}

impl Default for Reuse {
    /// `Once`: reuse must be asked for, since a wrongly shared verdict (one that
    /// depends on the client) would be a policy bug.
    fn default() -> Self {
        Reuse::Once
    }
}

/// Verdict of the on-response phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseAction {
    /// Leave the answer as it is.
    Pass,
    /// Replace the answer with a block.
    Block(Block),
    /// Replace the answer section with these records (NOERROR).
    Replace(Vec<Record>),
}

/// The hooks a plugin wants called; the host never calls the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hooks {
    pub on_query: bool,
    pub on_response: bool,
}

impl Hooks {
    /// Neither hook: the plugin is loaded but never called.
    pub const NONE: Hooks = Hooks {
        on_query: false,
        on_response: false,
    };
    /// Only on-query (the default).
    pub const ON_QUERY: Hooks = Hooks {
        on_query: true,
        on_response: false,
    };
    /// Only on-response.
    pub const ON_RESPONSE: Hooks = Hooks {
        on_query: false,
        on_response: true,
    };
    /// Both hooks.
    pub const BOTH: Hooks = Hooks {
        on_query: true,
        on_response: true,
    };
}

impl Default for Hooks {
    /// On-query only: the hook every policy needs; on-response costs a call per
    /// upstream answer, so it is opt-in.
    fn default() -> Self {
        Hooks::ON_QUERY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_default_is_once_and_until_reload_is_the_longest() {
        assert_eq!(Reuse::default(), Reuse::Once);
        assert_eq!(Reuse::UNTIL_RELOAD, Reuse::Question(u32::MAX));
        assert_ne!(Reuse::UNTIL_RELOAD, Reuse::Once);
    }

    #[test]
    fn default_hooks_are_on_query_only() {
        assert_eq!(Hooks::default(), Hooks::ON_QUERY);
        let flags = |h: Hooks| (h.on_query, h.on_response);
        assert_eq!(flags(Hooks::BOTH), (true, true));
        assert_eq!(flags(Hooks::NONE), (false, false));
        assert_eq!(flags(Hooks::ON_RESPONSE), (false, true));
        assert_eq!(flags(Hooks::ON_QUERY), (true, false));
    }
}
