/**
 * Linux /proc readers: a process tree and its CPU time. Used to stop `wrangler dev`
 * with every workerd it started, and by the benchmark to charge CPU to the worker.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  ppid: number;
  /** Executable name as the kernel reports it (truncated to 15 characters). */
  comm: string;
  /** R, S, D, Z (zombie), ... */
  state: string;
  /** User and system CPU time in clock ticks (see clockTicksPerSecond). */
  utime: number;
  stime: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces or parentheses: split after the last ")".
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 of proc(5) (state), so field n is fields[n - 3].
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0] ?? "?",
    ppid: Number(fields[1]),
    utime: Number(fields[11]),
    stime: Number(fields[12]),
  };
}

export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** rootPid and all its live descendants (zombies excluded), parents before children. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  const live = new Set<number>();
  for (const stat of allStats()) {
    if (stat.state === "Z") continue;
    live.add(stat.pid);
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  if (!live.has(rootPid)) return [];
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (tree.includes(pid)) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** utime+stime in clock ticks of each live pid given. */
export function cpuTicks(pids: readonly number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) ticks.set(pid, stat.utime + stat.stime);
  }
  return ticks;
}

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (USER_HZ, almost always 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK gave ${value}`);
    ticksPerSecond = value;
  }
  return ticksPerSecond;
}
