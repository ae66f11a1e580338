/**
 * Whose CPU a perf sample of the bench:worker-only workerd is: the Worker's or the simulators'.
 *
 * That workerd runs our bundle and miniflare's simulators (its D1 / KV / queue / Durable Object
 * workers and its entry, router and outbound workers) side by side, each in an isolate of its own.
 * With V8's --perf-basic-prof, workerd writes /tmp/perf-<pid>.map and perf names every JavaScript
 * function with its script ("JS:*verify build/index.js:1:2345", "JS:~get namespace.worker.js:…").
 * An isolate never calls another synchronously, so every JavaScript frame on one stack is one
 * isolate's: the first frame from the leaf that belongs to a script of ours or of miniflare's
 * decides whose the whole sample is (native callees such as BoringSSL or V8's runtime included,
 * since workerd keeps frame pointers and perf unwinds through them). workerd's built-in modules
 * (node:*, node-internal:*, cloudflare-internal:* such as D1's client API) run in whichever
 * isolate imports them, so they decide nothing and the walk goes on to their caller.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { categoryOf, type ProfileCategory } from "./profile.ts";
import type { OriginalPosition } from "./source-map.ts";

const JAVASCRIPT: ProfileCategory = "JavaScript (V8 interpreter, builtins, JIT)";
const CRYPTO: ProfileCategory = "crypto (BoringSSL: ECDSA, SHA-256, scrypt)";

/** V8 flags for the profiling pass: the perf map, and interpreted functions named in it too. */
export const V8_PERF_FLAGS = ["--perf-basic-prof", "--interpreted-frames-native-stack"];

export const OWNERS = ["worker", "simulators", "unattributed", "no JavaScript"] as const;
/**
 * worker: a frame of our bundle is on the stack. simulators: a frame of miniflare's workers.
 * unattributed: JavaScript frames only of workerd's built-in modules or of V8's builtins: the
 * promise machinery of async/await (resolving a promise, resuming an async function) run as a
 * microtask with none of the isolate's own functions on the stack yet; any isolate's.
 * no JavaScript: no JavaScript frame at all (workerd's event loop, I/O, the SQLite behind D1/KV).
 */
export type Owner = (typeof OWNERS)[number];

interface Frame {
  symbol: string;
  kernel: boolean;
}

/** "JS:*verify build/index.js:1:2345" → the script, "build/index.js", and the position. */
const NAMED_JS_FRAME =
  /^(?:JS|Script|Function|LazyCompile|Eval|InterpretedFunction):\S*\s(?:.*\s)?(\S+?):(\d+):(\d+)$/;
/** Scripts every isolate may run: workerd's built-in modules. */
const BUILT_IN_SCRIPT = /^(node|node-internal|cloudflare|cloudflare-internal|workerd|internal):/;

export interface JavaScriptSource {
  script: string;
  line: number;
  column: number;
}

export function scriptOf(frame: Frame): JavaScriptSource | undefined {
  const match = NAMED_JS_FRAME.exec(frame.symbol);
  if (!match) return undefined;
  return { script: match[1] as string, line: Number(match[2]), column: Number(match[3]) };
}

export interface OwnerSplit {
  /** Sample weight (perf periods) over the whole recording. */
  total: number;
  /** Share (0..1) of the samples by owner and by kind of work of the leaf. */
  shares: Record<Owner, Partial<Record<ProfileCategory, number>>>;
  /**
   * The Worker's functions by its JavaScript + crypto samples, heaviest first: total = on the
   * stack (self + callees), self = the innermost function of ours (with the builtins it calls).
   */
  workerFunctions: Array<{ key: string; total: number; self: number }>;
  /** Self share of the Worker's samples by source package (src, hono, zod, drizzle-orm, jose …). */
  workerPackages: Array<{ name: string; self: number }>;
}

/** "node_modules/@hono/zod-openapi/dist/index.js" → "@hono/zod-openapi"; "src/lib/x.ts" → "src (ours)". */
function packageOf(source: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (match) return match[1] as string;
  return source.startsWith("src/") ? "src (ours)" : source;
}

/**
 * Reads perf's samples with their stacks (`perf script`, streamed: a few seconds at 999 Hz are
 * tens of MB of text) and splits them by owner. `isWorkerScript` names the bundle's modules;
 * `resolve` maps a bundle position to its source (the build's source map).
 */
export async function splitByOwner(
  dataFile: string,
  isWorkerScript: (script: string) => boolean,
  resolve: (script: string, line: number, column: number) => OriginalPosition | undefined,
): Promise<OwnerSplit> {
  const weights = new Map<Owner, Map<ProfileCategory, number>>(OWNERS.map((owner) => [owner, new Map()]));
  const functionTotals = new Map<string, number>();
  const functionSelf = new Map<string, number>();
  const packageSelf = new Map<string, number>();
  const names = new Map<string, string>();
  let total = 0;

  const nameOf = (source: JavaScriptSource): string => {
    const position = `${source.script}:${source.line}:${source.column}`;
    let name = names.get(position);
    if (name === undefined) {
      const original = resolve(source.script, source.line, source.column);
      name = original
        ? `${original.source}:${original.line}${original.text ? ` ${original.text}` : ""}`
        : position;
      names.set(position, name);
    }
    return name;
  };

  const account = (period: number, frames: Frame[]) => {
    if (frames.length === 0) return;
    total += period;
    const leaf = frames[0] as Frame;
    const category = categoryOf(leaf.symbol, leaf.kernel);
    let owner: Owner = "no JavaScript";
    const ours: JavaScriptSource[] = [];
    for (const frame of frames) {
      const source = scriptOf(frame);
      if (!source || BUILT_IN_SCRIPT.test(source.script)) {
        if (owner === "no JavaScript" && (source || categoryOf(frame.symbol, false) === JAVASCRIPT))
          owner = "unattributed";
        continue;
      }
      if (isWorkerScript(source.script)) {
        owner = "worker";
        ours.push(source);
        continue;
      }
      // A simulator's frame: the sample is theirs (and one isolate's stack holds no frame of ours).
      if (owner !== "worker") owner = "simulators";
      break;
    }
    // BoringSSL's assembly (the P-256 field arithmetic of an ES256 verify) uses rbp as a general
    // register, so about half of its samples come with no stack. Only the Worker calls BoringSSL
    // here (the simulators' samples that do have a stack never reach it), so they are the Worker's.
    if (owner === "no JavaScript" && category === CRYPTO) owner = "worker";
    const byCategory = weights.get(owner) as Map<ProfileCategory, number>;
    byCategory.set(category, (byCategory.get(category) ?? 0) + period);
    // The function list explains the budget's figure: the Worker's JavaScript and crypto only.
    if (owner !== "worker" || ours.length === 0 || (category !== JAVASCRIPT && category !== CRYPTO)) return;
    const keys = new Set(ours.map(nameOf));
    for (const key of keys) functionTotals.set(key, (functionTotals.get(key) ?? 0) + period);
    const innermost = nameOf(ours[0] as JavaScriptSource);
    functionSelf.set(innermost, (functionSelf.get(innermost) ?? 0) + period);
    const pkg = packageOf(innermost);
    packageSelf.set(pkg, (packageSelf.get(pkg) ?? 0) + period);
  };

  const perf = spawn("perf", ["script", "-i", dataFile, "-F", "period,ip,sym,dso"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<number | null>((resolveExit) => perf.on("exit", resolveExit));
  let period = 0;
  let frames: Frame[] = [];
  // A sample is its period alone on a line, then one line per frame: "addr symbol (dso)".
  for await (const line of createInterface({ input: perf.stdout })) {
    const header = /^\s*(\d+)\s*$/.exec(line);
    if (header) {
      account(period, frames);
      period = Number(header[1]);
      frames = [];
      continue;
    }
    const frame = /^\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/.exec(line);
    if (frame) frames.push({ symbol: frame[1] as string, kernel: frame[2] === "[kernel.kallsyms]" });
  }
  account(period, frames);
  const status = await exited;
  if (status !== 0) throw new Error(`perf script exited with ${status}`);
  if (total === 0) throw new Error("perf recorded no samples");

  const share = (weight: number) => weight / total;
  const shares = Object.fromEntries(
    OWNERS.map((owner) => [
      owner,
      Object.fromEntries(
        [...(weights.get(owner) ?? [])].map(([category, weight]) => [category, share(weight)]),
      ),
    ]),
  ) as OwnerSplit["shares"];
  return {
    total,
    shares,
    workerFunctions: [...functionTotals]
      .map(([key, weight]) => ({ key, total: share(weight), self: share(functionSelf.get(key) ?? 0) }))
      .sort((a, b) => b.total - a.total),
    workerPackages: [...packageSelf]
      .map(([name, weight]) => ({ name, self: share(weight) }))
      .sort((a, b) => b.self - a.self),
  };
}
