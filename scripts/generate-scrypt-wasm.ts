/**
 * Writes src/lib/scrypt/romix.wasm, the memory-hard core of scrypt (RFC 7914 ROMix over
 * BlockMix-Salsa20/8) in WebAssembly SIMD, from the text below. The binary is committed so
 * that neither the Worker's build nor `npm run dev` needs this step; `npm test` runs it with
 * `--check` (scripts/generate-scrypt-wasm.test.ts), so the binary cannot drift from its source.
 *
 *   npm run build:scrypt-wasm            # after editing this file
 *   node scripts/generate-scrypt-wasm.ts --wat   # print the WebAssembly text instead
 *
 * Why hand-written: node:crypto's scrypt in workerd is BoringSSL's portable C, one 32-bit word
 * at a time; no maintained scrypt for Workers ships a precompiled SIMD module (Workers cannot
 * compile WebAssembly from bytes at run time, so the usual packages that embed it as base64
 * cannot load). Here each 64-byte Salsa20 block lives in four i32x4 vectors with its words in
 * diagonal order, after Colin Percival's crypto_scrypt-sse.c (the scrypt reference code): a
 * double round is eight vector quarter-steps and three lane rotations. In workerd it derives
 * the same keys as node:crypto in about two thirds of the CPU (bench/README.md).
 *
 * Exports `memory` and `romix(r, n, v)`: ROMix of the 128·r bytes at address 0, words already in
 * diagonal order (src/lib/scrypt/scrypt.ts permutes them in and out and runs PBKDF2 around
 * this), with V (n blocks of 128·r bytes) from address `v` and a scratch block at 128·r.
 * n must be an even power of two (scrypt's N ≥ 2), `v` at least 256·r.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

export const ROMIX_WASM_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "src",
  "lib",
  "scrypt",
  "romix.wasm",
);

/** i32x4 lane rotations (SSE's pshufd 0x93, 0x4E, 0x39) as byte shuffles. */
const LANES = {
  left1: "12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11",
  swap: "8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7",
  right1: "4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3",
} as const;

/** dst ^= (a + b) <<< n, on four lanes at once. */
function addRotateXor(dst: string, a: string, b: string, n: number): string {
  return `
      (local.set $t (i32x4.add (local.get ${a}) (local.get ${b})))
      (local.set ${dst} (v128.xor (v128.xor (local.get ${dst}) (i32x4.shl (local.get $t) (i32.const ${n})))
                                  (i32x4.shr_u (local.get $t) (i32.const ${32 - n}))))`;
}

function rotateLanes(x: string, lanes: keyof typeof LANES): string {
  return `
      (local.set ${x} (i8x16.shuffle ${LANES[lanes]} (local.get ${x}) (local.get ${x})))`;
}

/** Salsa20/8 of the block in $x0..$x3 (diagonal order), in place: four double rounds, then the input added. */
const SALSA20_8 = `
    (local.set $s0 (local.get $x0)) (local.set $s1 (local.get $x1))
    (local.set $s2 (local.get $x2)) (local.set $s3 (local.get $x3))
    (local.set $round (i32.const 0))
    (loop $double_round
      ;; columns
      ${addRotateXor("$x1", "$x0", "$x3", 7)}${addRotateXor("$x2", "$x1", "$x0", 9)}${addRotateXor("$x3", "$x2", "$x1", 13)}${addRotateXor("$x0", "$x3", "$x2", 18)}
      ${rotateLanes("$x1", "left1")}${rotateLanes("$x2", "swap")}${rotateLanes("$x3", "right1")}
      ;; rows
      ${addRotateXor("$x3", "$x0", "$x1", 7)}${addRotateXor("$x2", "$x3", "$x0", 9)}${addRotateXor("$x1", "$x2", "$x3", 13)}${addRotateXor("$x0", "$x1", "$x2", 18)}
      ${rotateLanes("$x1", "right1")}${rotateLanes("$x2", "swap")}${rotateLanes("$x3", "left1")}
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $double_round (i32.lt_u (local.get $round) (i32.const 4))))
    (local.set $x0 (i32x4.add (local.get $x0) (local.get $s0)))
    (local.set $x1 (i32x4.add (local.get $x1) (local.get $s1)))
    (local.set $x2 (i32x4.add (local.get $x2) (local.get $s2)))
    (local.set $x3 (i32x4.add (local.get $x3) (local.get $s3)))`;

const QUARTERS = [0, 1, 2, 3];
const load = (ptr: string, offset: number) =>
  QUARTERS.map((q) => `(local.set $x${q} (v128.load offset=${offset + q * 16} (local.get ${ptr})))`).join(
    "\n    ",
  );
const xorIn = (ptr: string, offset: number) =>
  QUARTERS.map(
    (q) =>
      `(local.set $x${q} (v128.xor (local.get $x${q}) (v128.load offset=${offset + q * 16} (local.get ${ptr}))))`,
  ).join("\n    ");
const store = (ptr: string) =>
  QUARTERS.map((q) => `(v128.store offset=${q * 16} (local.get ${ptr}) (local.get $x${q}))`).join("\n    ");

/**
 * BlockMix-Salsa20/8 of the 128·r bytes at $in (each 64-byte block xored first with the same
 * block at $v, when `withV`: ROMix's X xor V_j, done on the way in) into $out: the even blocks'
 * outputs to its first half, the odd ones' to its second.
 */
function blockMix(name: string, withV: boolean): string {
  return `
  (func ${name} (param $in i32) ${withV ? "(param $v i32)" : ""} (param $out i32) (param $r i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $t v128)
    (local $round i32) (local $i i32) (local $last i32) (local $even i32) (local $odd i32) (local $b i32)
    ${withV ? "(local $vb i32)" : ""}
    ;; X <- the last block
    (local.set $last (i32.sub (i32.shl (local.get $r) (i32.const 7)) (i32.const 64)))
    (local.set $b (i32.add (local.get $in) (local.get $last)))
    ${load("$b", 0)}
    ${withV ? `(local.set $vb (i32.add (local.get $v) (local.get $last)))\n    ${xorIn("$vb", 0)}\n    (local.set $vb (local.get $v))` : ""}
    (local.set $b (local.get $in))
    (local.set $even (local.get $out))
    (local.set $odd (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 6))))
    (local.set $i (i32.const 0))
    (loop $pairs
      ;; block 2i: X <- Salsa(X xor B_2i) -> out[i]
      ${xorIn("$b", 0)}
      ${withV ? xorIn("$vb", 0) : ""}
      ${SALSA20_8}
      ${store("$even")}
      ;; block 2i+1: X <- Salsa(X xor B_2i+1) -> out[r + i]
      ${xorIn("$b", 64)}
      ${withV ? xorIn("$vb", 64) : ""}
      ${SALSA20_8}
      ${store("$odd")}
      (local.set $b (i32.add (local.get $b) (i32.const 128)))
      ${withV ? "(local.set $vb (i32.add (local.get $vb) (i32.const 128)))" : ""}
      (local.set $even (i32.add (local.get $even) (i32.const 64)))
      (local.set $odd (i32.add (local.get $odd) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $pairs (i32.lt_u (local.get $i) (local.get $r)))))`;
}

export const ROMIX_WAT = `(module
  (memory (export "memory") 1)
  ${blockMix("$block_mix", false)}
  ${blockMix("$block_mix_xor", true)}
  (func (export "romix") (param $r i32) (param $n i32) (param $v i32)
    (local $size i32) (local $i i32) (local $prev i32) (local $j i32) (local $x i32) (local $y i32) (local $swap i32)
    (local.set $size (i32.shl (local.get $r) (i32.const 7)))
    ;; V_0 <- X; V_i <- H(V_i-1) for i < N; X <- H(V_N-1)
    (memory.copy (local.get $v) (i32.const 0) (local.get $size))
    (local.set $prev (local.get $v))
    (local.set $i (i32.const 1))
    (loop $fill
      (call $block_mix (local.get $prev) (i32.add (local.get $prev) (local.get $size)) (local.get $r))
      (local.set $prev (i32.add (local.get $prev) (local.get $size)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (local.get $n))))
    (call $block_mix (local.get $prev) (i32.const 0) (local.get $r))
    ;; N times: j <- Integerify(X) mod N (the first word of the last block: diagonal order keeps
    ;; word 0 in place); X <- H(X xor V_j). X and the scratch block take turns; N is even, so
    ;; the result ends at address 0.
    (local.set $x (i32.const 0))
    (local.set $y (local.get $size))
    (local.set $i (i32.const 0))
    (loop $mix
      (local.set $j (i32.and
        (i32.load (i32.add (local.get $x) (i32.sub (local.get $size) (i32.const 64))))
        (i32.sub (local.get $n) (i32.const 1))))
      (call $block_mix_xor
        (local.get $x) (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $size))) (local.get $y) (local.get $r))
      (local.set $swap (local.get $x)) (local.set $x (local.get $y)) (local.set $y (local.get $swap))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $mix (i32.lt_u (local.get $i) (local.get $n))))))
`;

/** The module's bytes, compiled from ROMIX_WAT. */
export async function compileRomix(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat("romix.wat", ROMIX_WAT, { simd: true, bulk_memory: true });
  try {
    module.validate();
    return new Uint8Array(module.toBinary({ write_debug_names: false }).buffer);
  } finally {
    module.destroy();
  }
}

if (import.meta.main) {
  if (process.argv.includes("--wat")) {
    process.stdout.write(ROMIX_WAT);
  } else {
    const bytes = await compileRomix();
    if (process.argv.includes("--check")) {
      const committed = existsSync(ROMIX_WASM_PATH) ? readFileSync(ROMIX_WASM_PATH) : Buffer.alloc(0);
      if (!committed.equals(bytes)) {
        console.error(
          `${ROMIX_WASM_PATH} is not what scripts/generate-scrypt-wasm.ts compiles: run npm run build:scrypt-wasm`,
        );
        process.exit(1);
      }
      console.log(`romix.wasm matches its source (${bytes.length} bytes)`);
    } else {
      writeFileSync(ROMIX_WASM_PATH, bytes);
      console.log(`wrote ${ROMIX_WASM_PATH} (${bytes.length} bytes)`);
    }
  }
}
