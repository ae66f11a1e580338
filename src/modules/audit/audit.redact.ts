/**
 * What goes into an audit row's `before` / `after`. The log is kept forever and read
 * by every staff member, so a secret that reached it would be a secret leaked for
 * good: any field whose name says it holds one is replaced, at any depth, whatever
 * the caller passed. Size is bounded too, so one huge payload cannot bloat the table.
 */

export const REDACTED = "[redacted]";

/** Field names that hold secrets: passwords, tokens, API key secrets, hashes of them, auth headers. */
const SECRET_FIELD = /passw(or)?d|passphrase|secret|token|authorization|cookie|hash|api_?key$|private_?key/i;

const MAX_DEPTH = 6;
const MAX_STRING = 2_000;
const MAX_ITEMS = 100;
/** Serialized bytes per side; beyond it the value is replaced by a marker saying so. */
export const MAX_AUDIT_JSON_BYTES = 16 * 1024;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

function clean(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return "[truncated]";
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => clean(item, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`[${value.length - MAX_ITEMS} more]`);
    return items;
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
      if (field === undefined) continue;
      out[key] = isSecretField(key) ? REDACTED : clean(field, depth + 1);
    }
    return out;
  }
  // Functions, symbols: nothing an audit reader can use.
  return null;
}

/** A JSON-safe copy with secret fields replaced by "[redacted]", or null for nothing. */
export function redactForAudit(value: unknown): unknown {
  const cleaned = clean(value, 0);
  if (cleaned === null) return null;
  const bytes = new TextEncoder().encode(JSON.stringify(cleaned)).byteLength;
  return bytes > MAX_AUDIT_JSON_BYTES ? { truncated: true, bytes } : cleaned;
}
