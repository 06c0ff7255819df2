// js-allowlist: a wasmdns policy plugin in JavaScript (componentize-js).
//
// Per-client-network allowlist. Each configured network (CIDR) either allows any
// name, or only the listed names and their subdomains. The most specific network
// containing the client decides; clients in no network are refused.
//
// [plugin.config]
// networks = [
//   { cidr = "192.168.1.0/24" },                                  # any name
//   { cidr = "192.168.1.64/26", names = ["example.com", "lan"] }, # only these
//   { cidr = "fd00::/8" },
// ]
// outside = "refused"   # verdict for clients in no network: "refused" | "nxdomain"
// deny = "nxdomain"     # verdict for names a network does not allow:
//                       # "nxdomain" | "refused" | "null-ip"

import { log } from 'wasmdns:plugin/host@0.1.0';

const PASS = { tag: 'pass' };
const BLOCKS = {
  nxdomain: { tag: 'block', val: { tag: 'nxdomain' } },
  refused: { tag: 'block', val: { tag: 'refused' } },
  'null-ip': { tag: 'block', val: { tag: 'null-ip' } },
};
const NAME_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

// Networks sorted most specific first, split by family.
let v4 = [];
let v6 = [];
let outside = BLOCKS.refused;
let deny = BLOCKS.nxdomain;

class ConfigError extends Error {}

function fail(msg) {
  throw new ConfigError(msg);
}

// "a.b.c.d" → 32-bit unsigned number, or null.
function parseV4(text) {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

// RFC 4291 text form → array of 8 numbers (16 bits each), or null.
function parseV6(text) {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words = [];
  const push = (list) => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (i === list.length - 1 && g.includes('.')) {
        const n = parseV4(g);
        if (n === null) return false;
        words.push(Math.floor(n / 65536), n % 65536);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (!push(head)) return null;
  const headLen = words.length;
  if (!push(tail)) return null;
  if (halves.length === 1) return words.length === 8 ? words : null;
  if (words.length > 7) return null;
  const zeros = new Array(8 - words.length).fill(0);
  return [...words.slice(0, headLen), ...zeros, ...words.slice(headLen)];
}

// Bits of `words` (16-bit each) covered by `prefix`, as 16-bit masks.
function masks(prefix) {
  const m = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - 16 * i));
    m.push(bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff);
  }
  return m;
}

function normalizeName(raw, where) {
  if (typeof raw !== 'string') fail(`${where}: not a string`);
  let name = raw.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.length > 253 || !name.split('.').every((l) => NAME_LABEL.test(l))) {
    fail(`${where}: ${JSON.stringify(raw)} is not a domain name`);
  }
  return name;
}

function parseNetwork(entry, i) {
  const where = `networks[${i}]`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(`${where}: not a table`);
  for (const k of Object.keys(entry)) {
    if (k !== 'cidr' && k !== 'names') fail(`${where}: unknown key ${JSON.stringify(k)}`);
  }
  const cidr = entry.cidr;
  if (typeof cidr !== 'string') fail(`${where}: cidr must be a string`);
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const len = slash < 0 ? null : cidr.slice(slash + 1);
  if (len !== null && !/^(0|[1-9][0-9]{0,2})$/.test(len)) fail(`${where}: bad prefix in ${cidr}`);
  let names = null;
  if (entry.names !== undefined) {
    if (!Array.isArray(entry.names)) fail(`${where}: names must be a list`);
    names = new Set(entry.names.map((n, j) => normalizeName(n, `${where}.names[${j}]`)));
  }
  const n4 = addr.includes(':') ? null : parseV4(addr);
  if (n4 !== null) {
    const prefix = len === null ? 32 : Number(len);
    if (prefix > 32) fail(`${where}: prefix over 32 in ${cidr}`);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((n4 & ~mask) >>> 0 !== 0) fail(`${where}: ${cidr} has host bits set`);
    return { family: 4, prefix, net: n4, mask, names };
  }
  const n6 = parseV6(addr);
  if (n6 === null) fail(`${where}: ${JSON.stringify(cidr)} is not an IP network`);
  const prefix = len === null ? 128 : Number(len);
  if (prefix > 128) fail(`${where}: prefix over 128 in ${cidr}`);
  const mask = masks(prefix);
  if (n6.some((w, k) => (w & ~mask[k] & 0xffff) !== 0)) fail(`${where}: ${cidr} has host bits set`);
  return { family: 6, prefix, net: n6, mask, names };
}

function verdict(table, key, allowed, fallback) {
  const v = table[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v)) {
    fail(`${key} must be one of ${allowed.join(', ')}`);
  }
  return BLOCKS[v];
}

function configure(json) {
  const table = json.trim() === '' ? null : JSON.parse(json);
  const cfg = table === null ? {} : table;
  if (typeof cfg !== 'object' || Array.isArray(cfg)) fail('config is not a table');
  for (const k of Object.keys(cfg)) {
    if (!['networks', 'outside', 'deny'].includes(k)) fail(`unknown key ${JSON.stringify(k)}`);
  }
  const list = cfg.networks === undefined ? [] : cfg.networks;
  if (!Array.isArray(list)) fail('networks must be a list of tables');
  const nets = list.map(parseNetwork).sort((a, b) => b.prefix - a.prefix);
  v4 = nets.filter((n) => n.family === 4);
  v6 = nets.filter((n) => n.family === 6);
  outside = verdict(cfg, 'outside', ['refused', 'nxdomain'], BLOCKS.refused);
  deny = verdict(cfg, 'deny', ['nxdomain', 'refused', 'null-ip'], BLOCKS.nxdomain);
}

function findV4(n) {
  for (const net of v4) {
    if ((n & net.mask) >>> 0 === net.net) return net;
  }
  return null;
}

function findV6(words) {
  outer: for (const net of v6) {
    for (let k = 0; k < 8; k++) {
      if ((words[k] & net.mask[k]) !== net.net[k]) continue outer;
    }
    return net;
  }
  return null;
}

function networkOf(ip) {
  if (ip.tag === 'ipv4') {
    const [a, b, c, d] = ip.val;
    return findV4(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);
  }
  const w = ip.val;
  // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 client.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return findV4(w[6] * 65536 + w[7]);
  }
  return findV6(w);
}

// True when `name` is one of `names` or below one of them.
function listed(names, name) {
  if (names.has(name)) return true;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
    if (names.has(name.slice(i + 1))) return true;
  }
  return false;
}

export const policy = {
  init(config) {
    try {
      configure(config);
    } catch (e) {
      // A string thrown from init becomes result::err for the host.
      throw `bad config: ${e instanceof ConfigError ? e.message : String(e)}`;
    }
    log('info', `js-allowlist: ${v4.length} IPv4 and ${v6.length} IPv6 network(s)`);
    return { onQuery: true, onResponse: false };
  },

  onQuery(q, c) {
    const net = networkOf(c.ip);
    if (net === null) return outside;
    if (net.names === null || listed(net.names, q.name)) return PASS;
    return deny;
  },

  onResponse(_q, _c, _rcode, _answers) {
    return PASS;
  },
};
