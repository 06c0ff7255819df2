// wasmdns AssemblyScript SDK: domain-name helpers matching the host's spelling of
// `question.name` (lower-case, no trailing dot).

/** Lower-cases and drops one trailing dot; null if not a valid host name. */
export function normalizeName(raw: string): string | null {
  let name = raw.toLowerCase();
  if (name.endsWith(".")) name = name.substring(0, name.length - 1);
  if (name.length == 0 || name.length > 253) return null;
  const labels = name.split(".");
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l.length == 0 || l.length > 63) return null;
    for (let j = 0; j < l.length; j++) {
      const c = l.charCodeAt(j);
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f ||
        (c == 0x2d && j != 0 && j != l.length - 1);
      if (!ok) return null;
    }
  }
  return name;
}

/** True when `name` is `parent` or lies below it ("a.b.example" under "example"). */
export function isSubdomainOf(name: string, parent: string): bool {
  if (name.length == parent.length) return name == parent;
  if (name.length < parent.length + 1) return false;
  const cut = name.length - parent.length;
  return name.charCodeAt(cut - 1) == 0x2e && name.substring(cut) == parent;
}
