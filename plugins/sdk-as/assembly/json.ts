// wasmdns AssemblyScript SDK: a small strict JSON reader for plugin configs (the
// host passes `[plugin.config]` as JSON). Errors are reported, never trapped.

export enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  /** The member `key` of an object, or null (also for non-objects). */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.items[i];
    return null;
  }
}

const MAX_DEPTH = 64;

class Reader {
  pos: i32 = 0;
  error: string | null = null;
  constructor(public text: string) {}

  fail(msg: string): JsonValue {
    if (this.error === null) this.error = msg + " at offset " + this.pos.toString();
    return new JsonValue();
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  literal(word: string): bool {
    if (this.text.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  value(depth: i32): JsonValue {
    if (depth > MAX_DEPTH) return this.fail("nested too deeply");
    this.skipSpace();
    if (this.pos >= this.text.length) return this.fail("unexpected end");
    const c = this.text.charCodeAt(this.pos);
    const v = new JsonValue();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      v.kind = JsonKind.String;
      v.str = this.string();
      return v;
    }
    if (this.literal("null")) return v;
    if (this.literal("true")) { v.kind = JsonKind.Bool; v.bool = true; return v; }
    if (this.literal("false")) { v.kind = JsonKind.Bool; return v; }
    return this.number();
  }

  number(): JsonValue {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (!((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45)) break;
      this.pos++;
    }
    if (start == this.pos) return this.fail("unexpected character");
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.num = parseFloat(this.text.substring(start, this.pos));
    if (isNaN(v.num)) return this.fail("bad number");
    return v;
  }

  string(): string {
    this.pos++; // opening quote
    let out = "";
    let run = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        out += this.text.substring(run, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) break;
      if (c == 0x5c) {
        out += this.text.substring(run, this.pos);
        const e = this.text.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x22 || e == 0x5c || e == 0x2f) out += String.fromCharCode(e);
        else if (e == 0x75) {
          const hex = this.text.substr(this.pos, 4);
          const code = <i32>parseInt(hex, 16);
          if (hex.length != 4 || isNaN(<f64>code)) break;
          out += String.fromCharCode(code);
          this.pos += 4;
        } else break;
        run = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("bad string");
    return "";
  }

  array(depth: i32): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.pos++;
    this.skipSpace();
    if (this.literal("]")) return v;
    while (this.error === null) {
      v.items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.literal("]")) return v;
      if (!this.literal(",")) return this.fail("expected , or ]");
    }
    return v;
  }

  object(depth: i32): JsonValue {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.pos++;
    this.skipSpace();
    if (this.literal("}")) return v;
    while (this.error === null) {
      this.skipSpace();
      if (this.pos >= this.text.length || this.text.charCodeAt(this.pos) != 0x22) {
        return this.fail("expected a key");
      }
      v.keys.push(this.string());
      this.skipSpace();
      if (!this.literal(":")) return this.fail("expected :");
      v.items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.literal("}")) return v;
      if (!this.literal(",")) return this.fail("expected , or }");
    }
    return v;
  }
}

/** Parses `text`; on error `out[0]` holds the message and the result is null. */
export function parseJson(text: string, error: string[]): JsonValue | null {
  const r = new Reader(text);
  const v = r.value(0);
  r.skipSpace();
  if (r.error === null && r.pos != text.length) r.fail("trailing characters");
  if (r.error !== null) {
    error.push(r.error!);
    return null;
  }
  return v;
}
