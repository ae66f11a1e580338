/**
 * `npm run bench:scrypt`: what one password hash costs in workerd, ours (src/lib/scrypt/: ROMix in
 * WebAssembly SIMD) against node:crypto's scrypt (BoringSSL, what we used before and what Better
 * Auth uses), at OWASP's parameters and at Better Auth's, in one workerd through Miniflare, without
 * wrangler or the rest of the Worker.
 *
 * Each request derives one key and answers it; they run one at a time, so a request's wall time is
 * the hash's CPU (scrypt is synchronous in both). Rounds alternate the two implementations, and
 * every round checks that both derived the same key.
 *
 *   npm run bench:scrypt                  # 3 rounds of 10 hashes per implementation and setting
 *   npm run bench:scrypt -- --rounds 5 --hashes 20
 */
import { readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: flags } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, hashes: { type: "string", default: "10" } },
});
const rounds = Number(flags.rounds);
const hashes = Number(flags.hashes);

const SETTINGS = [
  { name: "OWASP's (N=16384, r=8, p=5)", N: 16384, r: 8, p: 5 },
  { name: "Better Auth's (N=16384, r=16, p=1)", N: 16384, r: 16, p: 1 },
];

const WORKER = `import { scrypt as nodeScrypt } from "node:crypto";
import romix from "./romix.wasm";
import { createScrypt } from "./scrypt.js";
const ours = createScrypt(romix);
const password = new TextEncoder().encode("correct horse battery staple");
const salt = new TextEncoder().encode("sixteen byte salt");
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const cost = { N: Number(url.searchParams.get("N")), r: Number(url.searchParams.get("r")), p: Number(url.searchParams.get("p")) };
    if (url.pathname === "/ours") return new Response(hex(ours(password, salt, cost, 32)));
    const key = await new Promise((resolve, reject) =>
      nodeScrypt(password, salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r }, (error, derived) => (error ? reject(error) : resolve(derived))),
    );
    return new Response(hex(key));
  },
};
`;

const scryptSource = stripTypeScriptTypes(readFileSync(join(root, "src/lib/scrypt/scrypt.ts"), "utf8"));
const mf = new Miniflare(
  convertV4MiniflareOptions({
    workers: [
      {
        name: "scrypt-cost",
        compatibilityDate: "2025-09-01",
        compatibilityFlags: ["nodejs_compat"],
        modulesRoot: "/bench",
        modules: [
          { type: "ESModule", path: "/bench/worker.js", contents: WORKER },
          { type: "ESModule", path: "/bench/scrypt.js", contents: scryptSource },
          {
            type: "CompiledWasm",
            path: "/bench/romix.wasm",
            contents: readFileSync(join(root, "src/lib/scrypt/romix.wasm")),
          },
        ],
      },
    ],
  } as Parameters<typeof convertV4MiniflareOptions>[0]),
);

try {
  const url = await mf.ready;
  const derive = async (which: "ours" | "node", { N, r, p }: { N: number; r: number; p: number }) =>
    (await fetch(`${url}${which}?N=${N}&r=${r}&p=${p}`)).text();
  console.log(
    `bench:scrypt: ${rounds} rounds of ${hashes} hashes per implementation and setting, one at a time\n`,
  );
  console.log("| parameters | ours ms/hash | node:crypto ms/hash | ours/node:crypto | by round |");
  console.log("|---|--:|--:|--:|---|");
  for (const setting of SETTINGS) {
    // Warm-up, and the keys must agree.
    const [oursKey, nodeKey] = [await derive("ours", setting), await derive("node", setting)];
    if (oursKey !== nodeKey) throw new Error(`${setting.name}: the keys differ (${oursKey} vs ${nodeKey})`);
    const totals = { ours: 0, node: 0 };
    const byRound: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const spent = { ours: 0, node: 0 };
      for (const which of round % 2 === 0 ? (["ours", "node"] as const) : (["node", "ours"] as const)) {
        const started = performance.now();
        for (let i = 0; i < hashes; i++) await derive(which, setting);
        spent[which] = (performance.now() - started) / hashes;
      }
      totals.ours += spent.ours;
      totals.node += spent.node;
      byRound.push((spent.ours / spent.node).toFixed(2));
    }
    const ours = totals.ours / rounds;
    const node = totals.node / rounds;
    console.log(
      `| ${setting.name} | ${ours.toFixed(1)} | ${node.toFixed(1)} | ${(ours / node).toFixed(2)} | ${byRound.join(" / ")} |`,
    );
  }
} finally {
  await mf.dispose();
}
