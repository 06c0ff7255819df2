"""python-rewrite: a wasmdns policy plugin in Python (componentize-py).

Rewrites query names with regular expressions: the first rule whose `match`
matches the whole question name wins, and the proxy resolves the expanded
`rewrite` template instead (the client gets a CNAME from its name to it).

Config (the plugin's [plugin.config] table, as JSON):
    rules = [{ match = "regex", rewrite = "template", types = [1, 28] }]
`types` (optional) restricts a rule to those qtypes. Templates use Python's
`\\1` / `\\g<name>` group references.
"""

import json
import re

from wit_world import exports
from wit_world.imports import host, types
from componentize_py_types import Err

# RFC 1035 limits, in the presentation form the host gives plugins (no trailing dot).
MAX_NAME = 253
MAX_LABEL = 63
LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
PASS = types.QueryAction_Pass()


class Rule:
    """One compiled rule; construction validates it so queries never see a bad one."""

    def __init__(self, index, table):
        if not isinstance(table, dict):
            raise ValueError(f"rules[{index}] is not a table")
        unknown = set(table) - {"match", "rewrite", "types"}
        if unknown:
            raise ValueError(f"rules[{index}]: unknown key(s) {sorted(unknown)}")
        pattern, template = table.get("match"), table.get("rewrite")
        if not isinstance(pattern, str) or not isinstance(template, str):
            raise ValueError(f"rules[{index}]: `match` and `rewrite` must be strings")
        try:
            self.regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"rules[{index}]: bad regex {pattern!r}: {e}") from None
        self.template = template
        self._check_template(index)
        qtypes = table.get("types")
        if qtypes is not None and not (
            isinstance(qtypes, list)
            and all(isinstance(t, int) and 0 <= t <= 0xFFFF for t in qtypes)
        ):
            raise ValueError(f"rules[{index}]: `types` must be a list of numbers 0..65535")
        self.qtypes = frozenset(qtypes) if qtypes is not None else None

    def _check_template(self, index):
        # Expanding against a match with every group empty catches references to
        # groups the pattern does not have, at init rather than per query.
        probe = re.compile(self.regex.pattern + "|").fullmatch("")
        try:
            probe.expand(self.template)
        except (re.error, IndexError) as e:
            raise ValueError(f"rules[{index}]: bad template {self.template!r}: {e}") from None

    def apply(self, name, qtype):
        if self.qtypes is not None and qtype not in self.qtypes:
            return None
        m = self.regex.fullmatch(name)
        return m.expand(self.template) if m else None


def valid_name(name):
    """True for a non-root host name the host can encode; rejects escapes and empties."""
    if not name or len(name) > MAX_NAME:
        return False
    return all(len(l) <= MAX_LABEL and LABEL.fullmatch(l) for l in name.split("."))


class Policy(exports.Policy):
    rules = []

    def init(self, config):
        try:
            table = json.loads(config) if config.strip() else {}
            if table is None:
                table = {}
            if not isinstance(table, dict):
                raise ValueError("config is not a table")
            unknown = set(table) - {"rules"}
            if unknown:
                raise ValueError(f"unknown key(s) {sorted(unknown)}")
            rules = table.get("rules", [])
            if not isinstance(rules, list):
                raise ValueError("`rules` must be a list of tables")
            Policy.rules = [Rule(i, r) for i, r in enumerate(rules)]
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            raise Err(f"bad config: {e}")
        host.log(host.LogLevel.INFO, f"python-rewrite: {len(Policy.rules)} rule(s)")
        return types.Hooks.ON_QUERY

    def on_query(self, q, c):
        for rule in Policy.rules:
            target = rule.apply(q.name, q.qtype)
            if target is None:
                continue
            target = target.lower().rstrip(".")
            if target == q.name:
                return PASS  # a CNAME to itself would loop
            if not valid_name(target):
                host.log(host.LogLevel.WARN, f"rewrite of {q.name} gave a bad name, passed")
                return PASS
            return types.QueryAction_Rewrite(target)
        return PASS

    def on_response(self, q, c, rcode, answers):
        return types.ResponseAction_Pass()
