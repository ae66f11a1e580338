/**
 * Reads the production bundle's source map (`wrangler deploy --dry-run --outdir` writes
 * index.js.map beside index.js) to name a minified function by where it came from:
 * "node_modules/jose/dist/webapi/jws/flattened/verify.js:17 flattenedVerify".
 *
 * A few dozen lines of Source Map v3 decoding rather than a dependency: the decoders in
 * node_modules are only there as other packages' dependencies, at whatever version those pin.
 */
import { readFileSync } from "node:fs";

interface RawSourceMap {
  sources: string[];
  sourcesContent?: Array<string | null>;
  mappings: string;
}

/** One mapping: generated column → source, original line (0-based), original column. */
type Segment = [column: number, source: number, line: number, originalColumn: number];

export interface OriginalPosition {
  /** The source path as the map gives it, up to its node_modules/ or src/ part. */
  source: string;
  /** 1-based. */
  line: number;
  /**
   * The start of that source line, which names the function ("export async function
   * findUserById(db, id) {", "return async function requireUser(c, next) {"): the map's own names
   * are the identifiers near the position, often a parameter or esbuild's __name helper.
   */
  text?: string;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Map([...BASE64].map((char, index) => [char, index]));

/** Decodes one line's segments (relative VLQ fields; source, line and column carry across lines). */
function decodeLine(text: string, state: number[]): Segment[] {
  const segments: Segment[] = [];
  let column = 0;
  for (const field of text.split(",")) {
    if (field === "") continue;
    const values: number[] = [];
    let value = 0;
    let shift = 0;
    for (const char of field) {
      const digit = BASE64_VALUE.get(char) ?? 0;
      value += (digit & 31) << shift;
      if (digit & 32) shift += 5;
      else {
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0;
        shift = 0;
      }
    }
    column += values[0] ?? 0;
    if (values.length < 4) continue; // a segment that maps to no source
    // The fifth field (a name index) also carries across segments: it is decoded, and unused.
    for (let i = 1; i < values.length; i++) state[i - 1] = (state[i - 1] ?? 0) + (values[i] ?? 0);
    segments.push([column, state[0] ?? 0, state[1] ?? 0, state[2] ?? 0]);
  }
  return segments;
}

/** "../../../main/node_modules/jose/dist/x.js" → "node_modules/jose/dist/x.js"; "../../src/a.ts" → "src/a.ts". */
function shortSource(source: string): string {
  // drizzle-orm's published maps name its sources "../src/…", which lands outside its package.
  if (/node_modules\/src\//.test(source))
    return source.replace(/^.*node_modules\/src\//, "node_modules/drizzle-orm/src/");
  const modules = source.lastIndexOf("node_modules/");
  if (modules >= 0) return source.slice(modules);
  const ours = source.indexOf("src/");
  return ours >= 0 ? source.slice(ours) : source.replace(/^(\.\.\/)+/, "");
}

/** A lookup from a bundle position (1-based line and column, as V8 writes them) to its source. */
export function loadSourceMap(file: string): (line: number, column: number) => OriginalPosition | undefined {
  const map = JSON.parse(readFileSync(file, "utf8")) as RawSourceMap;
  const state = [0, 0, 0, 0];
  const lines = map.mappings.split(";").map((text) => decodeLine(text, state));
  const sourceLines = new Map<number, string[]>();
  const sourceLine = (source: number, line: number) => {
    let text = sourceLines.get(source);
    if (!text) {
      text = map.sourcesContent?.[source]?.split("\n") ?? [];
      sourceLines.set(source, text);
    }
    return text[line]?.trim();
  };
  return (line, column) => {
    const segments = lines[line - 1];
    if (!segments || segments.length === 0) return undefined;
    // The last segment at or before the column (V8 gives a function's position at its "(").
    const target = column - 1;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((segments[middle]?.[0] ?? 0) <= target) low = middle;
      else high = middle - 1;
    }
    const found = segments[low];
    if (!found || found[0] > target) return undefined;
    return {
      source: shortSource(map.sources[found[1]] ?? "?"),
      line: found[2] + 1,
      text: sourceLine(found[1], found[2])?.slice(0, 70),
    };
  };
}
