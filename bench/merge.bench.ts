/**
 * `npm run bench merge`: end-to-end merge throughput (bf16 safetensors in the
 * page cache → merge → bf16 safetensors) for TIES and DARE-TIES over 8
 * experts, next to a torch CPU implementation of mergekit's algorithm
 * (bench/reference/mergekit_ref.py, Debian's python3-torch) on the same files
 * in the same run. Goal: ≥ 40 M expert-elements/s and ≥ 6× the reference.
 *
 * Then a memory run ("big"): base + 8 experts whose files together exceed
 * half the RAM, merged in a child process whose peak RSS is reported (goal
 * < 2 GB). It writes ~13 GB to a temp dir: MERGELAB_BENCH_BIG=0 skips it.
 * MERGELAB_BENCH_TORCH=0 skips the torch reference; MERGELAB_BENCH_TENSORS=N sets the
 * tensors per checkpoint (default 8 × 4M elements).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = "/usr/bin/python3";
const EXPERTS = 8;

/** xorshift32 → uniform float in [−1, 1). */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2147483648 - 1;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const toBf16 = (x: number): number => {
  f32[0] = x;
  return u32[0] >>> 16; // truncation is fine for synthetic data
};

/** Write a bf16 .safetensors file tensor by tensor (`fill` writes tensor t's bf16 bits). */
function writeBf16File(file: string, names: string[], shape: number[], fill: (t: number, out: Uint16Array) => void): void {
  const numel = shape.reduce((a, b) => a * b, 1);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  names.forEach((n, i) => (header[n] = { dtype: "BF16", shape, data_offsets: [i * numel * 2, (i + 1) * numel * 2] }));
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += " ";
  const fd = fs.openSync(file, "w");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  const buf = new Uint16Array(numel);
  for (let t = 0; t < names.length; t++) {
    fill(t, buf);
    fs.writeSync(fd, new Uint8Array(buf.buffer));
  }
  fs.closeSync(fd);
}

/** Base + 8 experts (base + small noise), `tensors` × `shape` each. */
function makeCheckpoints(dir: string, tensors: number, shape: number[]): { base: string; experts: string[] } {
  const names = Array.from({ length: tensors }, (_, i) => `model.layers.${i}.mlp.weight`);
  const numel = shape.reduce((a, b) => a * b, 1);
  const baseValues = names.map((_, t) => {
    const r = xorshift(1000 + t);
    return Float32Array.from({ length: numel }, () => r() * 0.05);
  });
  const base = path.join(dir, "base.safetensors");
  writeBf16File(base, names, shape, (t, out) => {
    const v = baseValues[t];
    for (let j = 0; j < numel; j++) out[j] = toBf16(v[j]);
  });
  const experts = Array.from({ length: EXPERTS }, (_, e) => {
    const file = path.join(dir, `expert${e}.safetensors`);
    writeBf16File(file, names, shape, (t, out) => {
      const v = baseValues[t];
      const r = xorshift(7 + e * 1009 + t * 31);
      for (let j = 0; j < numel; j++) out[j] = toBf16(v[j] + r() * 0.002);
    });
    return file;
  });
  return { base, experts };
}

/** Read every file once so the runs below start from the page cache. */
function warm(files: string[]): void {
  const buf = Buffer.alloc(16 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, "r");
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

interface ChildResult {
  seconds: number;
  maxRssMB: number;
  expertElements: number;
}

/** Run one mergelab merge in a child process (fresh heap; its peak RSS includes worker threads). */
function mergelabRun(method: string, base: string, experts: string[], out: string, extra: string[] = []): ChildResult {
  const r = spawnSync(process.execPath, [path.join(here, "merge-child.mjs"), method, base, out, ...experts, ...extra], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`mergelab ${method} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

function torchRun(method: string, base: string, experts: string[], out: string): { seconds: number; expert_elements: number } | string {
  if (process.env.MERGELAB_BENCH_TORCH === "0") return "skipped (MERGELAB_BENCH_TORCH=0)";
  if (!fs.existsSync(PYTHON)) return `skipped (${PYTHON} missing)`;
  const density = method === "ties" ? "0.2" : "0.1";
  const r = spawnSync(PYTHON, [path.join(here, "reference", "mergekit_ref.py"), "--method", method, "--base", base, "--out", out, "--density", density, "--threads", String(os.availableParallelism()), "--experts", ...experts], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split("\n").pop()}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const M = (x: number) => (x / 1e6).toFixed(1);

async function throughput(dir: string): Promise<void> {
  const tensors = Number(process.env.MERGELAB_BENCH_TENSORS ?? 8);
  const shape = [2048, 2048];
  console.log(`synthetic checkpoints: base + ${EXPERTS} experts, ${tensors} × [${shape.join(", ")}] bf16 each (${os.availableParallelism()} cores)`);
  const t0 = Date.now();
  const { base, experts } = makeCheckpoints(dir, tensors, shape);
  warm([base, ...experts]);
  console.log(`  written and read once in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const rows: string[][] = [];
  for (const [method, extra] of [["ties", ["k=0.2"]], ["dare_ties", ["p=0.9", "seed=1"]]] as const) {
    const runs = [0, 1].map((i) => mergelabRun(method, base, experts, path.join(dir, `out-${method}-${i}`), [...extra]));
    const best = runs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
    const mlRate = best.expertElements / best.seconds;
    const ref = torchRun(method, base, experts, path.join(dir, `ref-${method}.safetensors`));
    const refRate = typeof ref === "string" ? NaN : ref.expert_elements / ref.seconds;
    rows.push([
      method,
      `${M(mlRate)} M/s (${best.seconds.toFixed(2)} s, peak RSS ${best.maxRssMB.toFixed(0)} MB)`,
      typeof ref === "string" ? ref : `${M(refRate)} M/s (${ref.seconds.toFixed(2)} s)`,
      Number.isNaN(refRate) ? "-" : `${(mlRate / refRate).toFixed(1)}×`,
    ]);
    for (let i = 0; i < 2; i++) fs.rmSync(path.join(dir, `out-${method}-${i}`), { recursive: true, force: true });
  }
  console.log("\n  method      mergelab (expert-elements/s)              torch mergekit-algorithm reference   ratio");
  for (const r of rows) console.log(`  ${r[0].padEnd(10)}  ${r[1].padEnd(42)}  ${r[2].padEnd(35)}  ${r[3]}`);
  console.log("  goal: ≥ 40 M/s and ≥ 6× the reference");
}

async function memory(dir: string): Promise<void> {
  if (process.env.MERGELAB_BENCH_BIG === "0") {
    console.log("\n[big] skipped (MERGELAB_BENCH_BIG=0)");
    return;
  }
  const half = os.totalmem() / 2;
  const tensorBytes = 32 << 20; // 16M bf16 elements
  const tensors = Math.ceil(half / (EXPERTS + 1) / tensorBytes) + 1;
  const total = tensors * tensorBytes * (EXPERTS + 1);
  const free = fs.statfsSync(dir);
  const avail = free.bavail * free.bsize;
  if (avail < total * 1.2) {
    console.log(`\n[big] skipped: needs ${(total * 1.2 / 1e9).toFixed(1)} GB free in ${dir}, has ${(avail / 1e9).toFixed(1)} GB`);
    return;
  }
  console.log(`\n[big] memory run: base + ${EXPERTS} experts, ${tensors} × 16M bf16 each = ${(total / 1e9).toFixed(1)} GB of input (RAM ${(os.totalmem() / 1e9).toFixed(1)} GB)`);
  // one random block, written at a different rotation per file and tensor (cheap to generate, not compressible)
  const n = tensorBytes / 2;
  const r = xorshift(99);
  const block = Uint16Array.from({ length: 2 * n }, () => toBf16(r() * 0.05));
  const files = Array.from({ length: EXPERTS + 1 }, (_, f) => {
    const file = path.join(dir, `big${f}.safetensors`);
    const names = Array.from({ length: tensors }, (_, i) => `model.layers.${i}.mlp.weight`);
    writeBf16File(file, names, [4096, 4096], (t, out) => {
      const off = (f * 7919 + t * 104729) % n;
      out.set(block.subarray(off, off + n));
    });
    return file;
  });
  const res = mergelabRun("ties", files[0], files.slice(1), path.join(dir, "big-out"), ["k=0.2"]);
  console.log(`  ties over ${EXPERTS} experts: ${res.seconds.toFixed(1)} s, ${M(res.expertElements / res.seconds)} M expert-elements/s, peak RSS ${res.maxRssMB.toFixed(0)} MB (goal < 2048 MB)`);
}

/** The child runs the compiled dist/ (worker threads need it): build it first. */
function build(): void {
  const root = path.resolve(here, "..");
  const r = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
  if (!fs.existsSync(path.join(root, "dist", "kernel", "engine", "index.js"))) throw new Error(`build failed:\n${r.stdout}`);
}

export default async function main(): Promise<void> {
  build();
  const dir = fs.mkdtempSync(path.join(process.env.MERGELAB_BENCH_DIR ?? os.tmpdir(), "mergelab-bench-"));
  try {
    await throughput(dir);
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    await memory(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
