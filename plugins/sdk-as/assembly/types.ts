// wasmdns AssemblyScript SDK: the plugin-facing types of wit/v0.1
// (wasmdns:plugin@0.1.0), as plain AssemblyScript classes.

/** Transport the client used. */
export enum Protocol { Udp = 0, Tcp = 1 }

/** Which hooks the host calls (the `hooks` flags). */
export namespace Hooks {
  export const ON_QUERY: u8 = 1;
  export const ON_RESPONSE: u8 = 2;
}

/** The question: `name` lower-case, no trailing dot, "\DDD" escapes; "" is the root. */
export class Question {
  constructor(public name: string, public qtype: u16, public qclass: u16) {}
}

/** Who asked. IPv4 clients have `ipv4` (a.b.c.d as a number); IPv6 ones `ipv6`. */
export class Client {
  isV6: bool = false;
  ipv4: u32 = 0;
  ipv6: StaticArray<u16> = new StaticArray<u16>(8);
  port: u16 = 0;
  protocol: Protocol = Protocol.Udp;
}

/** How a blocked query is answered. */
export enum BlockKind { Nxdomain = 0, Refused = 1, NullIp = 2, Rcode = 3 }

export enum RDataKind { A = 0, Aaaa = 1, Cname = 2, Txt = 3, Other = 4 }

/** Record data: typed A/AAAA/CNAME/TXT, raw wire rdata for other types. */
export class RData {
  kind: RDataKind = RDataKind.A;
  /** A: a.b.c.d as a number. */
  ipv4: u32 = 0;
  /** AAAA: eight 16-bit words. */
  ipv6: StaticArray<u16> = new StaticArray<u16>(0);
  /** CNAME target. */
  cname: string = "";
  /** TXT: one string per <character-string> (at most 255 bytes each). */
  txt: string[] = [];
  /** Other: the record type and its wire rdata. */
  rtype: u16 = 0;
  raw: Uint8Array = new Uint8Array(0);

  static a(ipv4: u32): RData { const d = new RData(); d.kind = RDataKind.A; d.ipv4 = ipv4; return d; }
  static aaaa(words: StaticArray<u16>): RData {
    const d = new RData(); d.kind = RDataKind.Aaaa; d.ipv6 = words; return d;
  }
  static cnameOf(target: string): RData { const d = new RData(); d.kind = RDataKind.Cname; d.cname = target; return d; }
  static txtOf(strings: string[]): RData { const d = new RData(); d.kind = RDataKind.Txt; d.txt = strings; return d; }
  static other(rtype: u16, raw: Uint8Array): RData {
    const d = new RData(); d.kind = RDataKind.Other; d.rtype = rtype; d.raw = raw; return d;
  }
}

/** One resource record; an empty `name` means the question's name. */
export class DnsRecord {
  constructor(public name: string, public ttl: u32, public data: RData) {}
}

enum QueryKind { Pass = 0, Block = 1, Answer = 2, Rewrite = 3 }

/** Verdict of on-query. Build with the static helpers. */
export class QueryAction {
  kind: i32 = QueryKind.Pass;
  block: BlockKind = BlockKind.Nxdomain;
  rcode: u16 = 0;
  records: DnsRecord[] = [];
  target: string = "";

  static pass(): QueryAction { return new QueryAction(); }
  static blocked(kind: BlockKind, rcode: u16 = 0): QueryAction {
    const a = new QueryAction(); a.kind = QueryKind.Block; a.block = kind; a.rcode = rcode; return a;
  }
  static answer(records: DnsRecord[]): QueryAction {
    const a = new QueryAction(); a.kind = QueryKind.Answer; a.records = records; return a;
  }
  static rewrite(target: string): QueryAction {
    const a = new QueryAction(); a.kind = QueryKind.Rewrite; a.target = target; return a;
  }
}

enum ResponseKind { Pass = 0, Block = 1, Replace = 2 }

/** Verdict of on-response. */
export class ResponseAction {
  kind: i32 = ResponseKind.Pass;
  block: BlockKind = BlockKind.Nxdomain;
  rcode: u16 = 0;
  records: DnsRecord[] = [];

  static pass(): ResponseAction { return new ResponseAction(); }
  static blocked(kind: BlockKind, rcode: u16 = 0): ResponseAction {
    const a = new ResponseAction(); a.kind = ResponseKind.Block; a.block = kind; a.rcode = rcode; return a;
  }
  static replace(records: DnsRecord[]): ResponseAction {
    const a = new ResponseAction(); a.kind = ResponseKind.Replace; a.records = records; return a;
  }
}

/** What a plugin implements. Override what you need; the defaults pass. */
export abstract class Plugin {
  /** Called once per instance with the config JSON. Return an error message, or null. */
  init(config: string): string | null { return null; }
  /** Hooks to call: Hooks.ON_QUERY and/or Hooks.ON_RESPONSE. */
  hooks(): u8 { return Hooks.ON_QUERY; }
  onQuery(q: Question, c: Client): QueryAction { return QueryAction.pass(); }
  onResponse(q: Question, c: Client, rcode: u16, answers: DnsRecord[]): ResponseAction {
    return ResponseAction.pass();
  }
}
