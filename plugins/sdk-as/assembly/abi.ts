// wasmdns AssemblyScript SDK: the canonical-ABI glue for wit/v0.1, written once so
// a plugin is only its policy. The `__wasmdns_*` exports are renamed to their
// component names ("wasmdns:plugin/policy@0.1.0#init", ...) by ../transform.js.
//
// Memory ownership (canonical ABI): arguments the host writes through
// cabi_realloc belong to us and are freed once lifted; results we return must stay
// valid until the host has read them, so their buffers are kept in `retained`
// until the next call.

import {
  Client, DnsRecord, Protocol, QueryAction, Question, RData, RDataKind, ResponseAction, Plugin,
} from "./types";

let plugin: Plugin | null = null;

/** Makes `p` the plugin this component exports. Call once, at top level. */
export function register(p: Plugin): void {
  plugin = p;
}

// @ts-ignore: decorator
@external("wasmdns:plugin/host@0.1.0", "log")
declare function hostLog(level: u32, ptr: usize, len: usize): void;

export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 }

/** Logs through the proxy's logger, tagged with the plugin's name. */
export function log(level: LogLevel, message: string): void {
  const buf = String.UTF8.encode(message);
  hostLog(<u32>level, changetype<usize>(buf), <usize>buf.byteLength);
}

// The host's zero-size allocations get this address; it is never freed.
const EMPTY: usize = memory.data(16, 16);
// Results are returned through this area (12 bytes: discriminant + payload at 4).
const RET: usize = memory.data(16, 16);
const retained: ArrayBuffer[] = [];

export function cabi_realloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  // TLSF blocks are 16-byte aligned, enough for every type in the contract.
  if (newSize == 0) {
    if (old != 0 && old != EMPTY && oldSize != 0) heap.free(old);
    return EMPTY;
  }
  if (old == 0 || old == EMPTY || oldSize == 0) return heap.alloc(newSize);
  return heap.realloc(old, newSize);
}

function release(ptr: usize, len: usize): void {
  if (len != 0 && ptr != EMPTY) heap.free(ptr);
}

function liftString(ptr: usize, len: usize): string {
  const s = String.UTF8.decodeUnsafe(ptr, len);
  release(ptr, len);
  return s;
}

/** Keeps `buf` alive until the next call and returns its address. */
function keep(buf: ArrayBuffer): usize {
  retained.push(buf);
  return changetype<usize>(buf);
}

function storeString(at: usize, s: string): void {
  const buf = String.UTF8.encode(s);
  store<u32>(at, <u32>keep(buf));
  store<u32>(at, <u32>buf.byteLength, 4);
}

function plug(): Plugin {
  if (plugin === null) unreachable(); // register() was never called: trap
  return plugin!;
}

// init: func(config: string) -> result<hooks, string>
export function __wasmdns_init(ptr: usize, len: usize): usize {
  retained.length = 0;
  const config = liftString(ptr, len);
  const p = plug();
  const err = p.init(config);
  if (err === null) {
    store<u8>(RET, 0);
    store<u8>(RET, p.hooks() & 3, 4);
  } else {
    store<u8>(RET, 1);
    storeString(RET + 4, err!);
  }
  return RET;
}

function liftClient(tag: u32, w: StaticArray<u32>, port: u32, proto: u32): Client {
  const c = new Client();
  c.isV6 = tag == 1;
  if (c.isV6) {
    for (let i = 0; i < 8; i++) c.ipv6[i] = <u16>w[i];
  } else {
    c.ipv4 = ((w[0] & 0xff) << 24) | ((w[1] & 0xff) << 16) | ((w[2] & 0xff) << 8) | (w[3] & 0xff);
  }
  c.port = <u16>port;
  c.protocol = proto == 1 ? Protocol.Tcp : Protocol.Udp;
  return c;
}

// on-query: func(q: question, c: client) -> query-action; 15 flat parameters.
export function __wasmdns_on_query(
  namePtr: usize, nameLen: usize, qtype: u32, qclass: u32,
  tag: u32, w0: u32, w1: u32, w2: u32, w3: u32, w4: u32, w5: u32, w6: u32, w7: u32,
  port: u32, proto: u32,
): usize {
  retained.length = 0;
  const q = new Question(liftString(namePtr, nameLen), <u16>qtype, <u16>qclass);
  const w = new StaticArray<u32>(8);
  w[0] = w0; w[1] = w1; w[2] = w2; w[3] = w3; w[4] = w4; w[5] = w5; w[6] = w6; w[7] = w7;
  const a = plug().onQuery(q, liftClient(tag, w, port, proto));
  store<u8>(RET, <u8>a.kind);
  if (a.kind == 1) storeBlock(RET + 4, a.block, a.rcode);
  else if (a.kind == 2) storeRecords(RET + 4, a.records);
  else if (a.kind == 3) storeString(RET + 4, a.target);
  return RET;
}

// on-response: func(q, c, rcode: u16, answers: list<record>) -> response-action.
// 18 flat parameters exceed the limit of 16, so the host passes one pointer to
// the tuple: question @0 (12 bytes), client @12 (22), rcode @34, answers @36.
export function __wasmdns_on_response(args: usize): usize {
  retained.length = 0;
  const q = new Question(
    liftString(load<u32>(args), load<u32>(args, 4)), load<u16>(args, 8), load<u16>(args, 10),
  );
  const c = new Client();
  c.isV6 = load<u8>(args, 12) == 1;
  if (c.isV6) {
    for (let i = 0; i < 8; i++) c.ipv6[i] = load<u16>(args + 14 + (<usize>i << 1));
  } else {
    c.ipv4 = bswap<u32>(load<u32>(args, 14));
  }
  c.port = load<u16>(args, 30);
  c.protocol = load<u8>(args, 32) == 1 ? Protocol.Tcp : Protocol.Udp;
  const rcode = load<u16>(args, 34);
  const answers = liftRecords(load<u32>(args, 36), load<u32>(args, 40));
  heap.free(args);
  const a = plug().onResponse(q, c, rcode, answers);
  store<u8>(RET, <u8>a.kind);
  if (a.kind == 1) storeBlock(RET + 4, a.block, a.rcode);
  else if (a.kind == 2) storeRecords(RET + 4, a.records);
  return RET;
}

// block: variant { nxdomain, refused, null-ip, rcode(u16) } — tag @0, u16 @2.
function storeBlock(at: usize, kind: i32, rcode: u16): void {
  store<u8>(at, <u8>kind);
  store<u16>(at, rcode, 2);
}

// record: name @0, ttl @8, rdata @12 (tag @12, payload @16); 32 bytes.
const RECORD: usize = 32;

function storeRecords(at: usize, records: DnsRecord[]): void {
  const n = records.length;
  const buf = new ArrayBuffer(n * <i32>RECORD);
  const base = keep(buf);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const p = base + <usize>i * RECORD;
    storeString(p, r.name);
    store<u32>(p, r.ttl, 8);
    storeRData(p + 12, r.data);
  }
  store<u32>(at, <u32>base);
  store<u32>(at, <u32>n, 4);
}

function storeRData(at: usize, d: RData): void {
  store<u8>(at, <u8>d.kind);
  const p = at + 4;
  if (d.kind == RDataKind.A) {
    store<u32>(p, bswap<u32>(d.ipv4));
  } else if (d.kind == RDataKind.Aaaa) {
    for (let i = 0; i < 8; i++) store<u16>(p + (<usize>i << 1), i < d.ipv6.length ? d.ipv6[i] : 0);
  } else if (d.kind == RDataKind.Cname) {
    storeString(p, d.cname);
  } else if (d.kind == RDataKind.Txt) {
    const n = d.txt.length;
    const list = keep(new ArrayBuffer(n * 8));
    for (let i = 0; i < n; i++) storeString(list + <usize>i * 8, d.txt[i]);
    store<u32>(p, <u32>list);
    store<u32>(p, <u32>n, 4);
  } else {
    store<u16>(p, d.rtype);
    const bytes = d.raw;
    const copy = new ArrayBuffer(bytes.length);
    memory.copy(changetype<usize>(copy), bytes.dataStart, <usize>bytes.length);
    store<u32>(p, <u32>keep(copy), 4);
    store<u32>(p, <u32>bytes.length, 8);
  }
}

function liftRecords(ptr: usize, n: usize): DnsRecord[] {
  const out = new Array<DnsRecord>(0);
  for (let i: usize = 0; i < n; i++) {
    const p = ptr + i * RECORD;
    const name = liftString(load<u32>(p), load<u32>(p, 4));
    out.push(new DnsRecord(name, load<u32>(p, 8), liftRData(p + 12)));
  }
  release(ptr, n * RECORD);
  return out;
}

function liftRData(at: usize): RData {
  const tag = load<u8>(at);
  const p = at + 4;
  if (tag == 0) return RData.a(bswap<u32>(load<u32>(p)));
  if (tag == 1) {
    const w = new StaticArray<u16>(8);
    for (let i = 0; i < 8; i++) w[i] = load<u16>(p + (<usize>i << 1));
    return RData.aaaa(w);
  }
  if (tag == 2) return RData.cnameOf(liftString(load<u32>(p), load<u32>(p, 4)));
  if (tag == 3) {
    const list = load<u32>(p);
    const n = load<u32>(p, 4);
    const strings = new Array<string>(0);
    for (let i: u32 = 0; i < n; i++) {
      const s = <usize>list + <usize>i * 8;
      strings.push(liftString(load<u32>(s), load<u32>(s, 4)));
    }
    release(list, <usize>n * 8);
    return RData.txtOf(strings);
  }
  const data = load<u32>(p, 4);
  const len = load<u32>(p, 8);
  const raw = new Uint8Array(len);
  memory.copy(raw.dataStart, data, len);
  release(data, len);
  return RData.other(load<u16>(p), raw);
}
