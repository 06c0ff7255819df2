// as-blocklist: a wasmdns policy plugin in AssemblyScript.
//
// Blocks listed names and everything below them, unless an `allow` entry covers
// the name. [plugin.config]:
//   domains = ["ads.example", "tracker.test"]
//   allow = ["ok.ads.example"]
//   block = "nxdomain"            # "nxdomain" (default) | "refused" | "null-ip"
import {
  BlockKind, Client, JsonValue, Plugin, QueryAction, Question,
  log, LogLevel, normalizeName, parseJson, register,
} from "../../../sdk-as/assembly";
import { JsonKind } from "../../../sdk-as/assembly/json";

// The component's exports (the SDK's canonical-ABI glue).
export * from "../../../sdk-as/assembly/exports";

function readNames(config: JsonValue, key: string, into: Set<string>): string | null {
  const list = config.get(key);
  if (list === null) return null;
  if (list.kind != JsonKind.Array) return key + " must be a list of names";
  for (let i = 0; i < list.items.length; i++) {
    const item = list.items[i];
    const name = item.kind == JsonKind.String ? normalizeName(item.str) : null;
    if (name === null) return key + "[" + i.toString() + "] is not a domain name";
    into.add(name!);
  }
  return null;
}

/** True when `name` or one of its parent domains is in `set`. */
function covered(set: Set<string>, name: string): bool {
  if (set.size == 0) return false;
  if (set.has(name)) return true;
  let dot = name.indexOf(".");
  while (dot >= 0) {
    if (set.has(name.substring(dot + 1))) return true;
    dot = name.indexOf(".", dot + 1);
  }
  return false;
}

class Blocklist extends Plugin {
  blocked: Set<string> = new Set<string>();
  allowed: Set<string> = new Set<string>();
  verdict: BlockKind = BlockKind.Nxdomain;

  init(config: string): string | null {
    const errors: string[] = [];
    const json = parseJson(config.length == 0 ? "{}" : config, errors);
    if (json === null) return "bad config: " + errors[0];
    if (json.kind == JsonKind.Null) return null;
    if (json.kind != JsonKind.Object) return "bad config: not a table";
    for (let i = 0; i < json.keys.length; i++) {
      const k = json.keys[i];
      if (k != "domains" && k != "allow" && k != "block") return "bad config: unknown key " + k;
    }
    let err = readNames(json, "domains", this.blocked);
    if (err === null) err = readNames(json, "allow", this.allowed);
    if (err !== null) return "bad config: " + err!;
    const block = json.get("block");
    if (block !== null) {
      const v = block.kind == JsonKind.String ? block.str : "";
      if (v == "nxdomain") this.verdict = BlockKind.Nxdomain;
      else if (v == "refused") this.verdict = BlockKind.Refused;
      else if (v == "null-ip") this.verdict = BlockKind.NullIp;
      else return "bad config: block must be nxdomain, refused or null-ip";
    }
    log(LogLevel.Info, "as-blocklist: " + this.blocked.size.toString() + " blocked, " +
      this.allowed.size.toString() + " allowed");
    return null;
  }

  onQuery(q: Question, c: Client): QueryAction {
    if (covered(this.blocked, q.name) && !covered(this.allowed, q.name)) {
      return QueryAction.blocked(this.verdict);
    }
    return QueryAction.pass();
  }
}

register(new Blocklist());
