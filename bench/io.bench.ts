/**
 * Checkpoint I/O throughput on a bf16 checkpoint, against plain sequential
 * `fs` reads and writes of the same bytes in the same run.
 *
 * - write: CheckpointWriter.writeF32 (float32 → bf16 RNE encode + positioned
 *   write into the sharded temp dir) vs fs.writeSync of pre-encoded bytes;
 * - read (page cache warm): Checkpoint.readF32 (positioned read + bf16 → float32
 *   decode) into an ordinary Float32Array and into an allocF32 buffer (decoded
 *   in place), and Checkpoint.readRaw, vs fs.readSync of the same files.
 *
 * Throughput is in checkpoint (bf16) bytes per second. Every chunk operation
 * is timed on its own and the median chunk time gives the rate: on a machine
 * shared with other jobs, preemption hits some chunks, not the median. The
 * readers alternate tensor by tensor (64 MB each, more than a CPU cache), so
 * neither profits from the other's cache; the writers alternate chunk by chunk.
 * Whole-pass rates are printed too.
 * Goal: decoding reads ≥ 0.7 of raw reads. Size: MERGELAB_BENCH_IO_MB (default 1024).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { allocF32, CheckpointWriter, openCheckpoint, SIMD_CHUNK, type OutputTensor } from "../io/index.js";

const CHUNK = 1 << 20; // elements per chunk: 2 MB of bf16, 4 MB of float32
const TENSOR = 32 * CHUNK; // 64 MB of bf16
/**
 * The reference writes in pieces the size of the writer's own pwrite calls
 * (one SIMD sub-chunk of bf16): single 2 MB write() calls were measured 10×
 * slower here under dirty-page throttling, which would flatter the writer.
 */
const RAW_WRITE = 2 * SIMD_CHUNK;

class Timer {
  readonly chunks: number[] = [];
  total = 0;
  time<T>(fn: () => T): T {
    const t0 = process.hrtime.bigint();
    const r = fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    this.chunks.push(dt);
    this.total += dt;
    return r;
  }
  median(): number {
    const s = [...this.chunks].sort((a, b) => a - b);
    return s[s.length >> 1];
  }
}

function report(what: string, ref: [string, Timer], ours: Array<[string, Timer]>, chunkBytes: number, bytes: number): void {
  const rate = (t: Timer) => chunkBytes / t.median() / 1e6;
  const whole = (t: Timer) => bytes / t.total / 1e6;
  console.log(`${what}: ${ref[0]} ${rate(ref[1]).toFixed(0)} MB/s (whole pass ${whole(ref[1]).toFixed(0)})`);
  for (const [name, t] of ours) {
    console.log(`  ${name} ${rate(t).toFixed(0)} MB/s (whole pass ${whole(t).toFixed(0)}); ratio ${(rate(t) / rate(ref[1])).toFixed(2)} (whole pass ${(whole(t) / whole(ref[1])).toFixed(2)})`);
  }
}

export default async function bench(): Promise<void> {
  const totalMB = Number(process.env.MERGELAB_BENCH_IO_MB ?? 1024);
  const nTensors = Math.max(1, Math.round((totalMB * 1e6) / (2 * TENSOR)));
  const tensors: OutputTensor[] = Array.from({ length: nTensors }, (_, i) => ({ name: `model.layers.${i}.mlp.weight`, dtype: "BF16", shape: [TENSOR / 4096, 4096] }));
  const bytes = nTensors * TENSOR * 2;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mergelab-bench-io-"));
  console.log(`bf16 checkpoint: ${nTensors} tensors × ${TENSOR} elements = ${(bytes / 1e6).toFixed(0)} MB, 500MB shards, chunks of ${CHUNK} elements; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);
  try {
    benchWrite(dir, tensors, bytes);
    // the engine picks its chunk size; smaller chunks stay in the CPU caches
    for (const chunk of [CHUNK, CHUNK >> 2]) benchRead(path.join(dir, "ckpt"), bytes, chunk);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function benchWrite(dir: string, tensors: OutputTensor[], bytes: number): void {
  const src = new Float32Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) src[i] = Math.sin(i) * 3;
  const encoded = new Uint8Array(CHUNK * 2).fill(7);
  const raw = new Timer();
  const ours = new Timer();
  const fd = fs.openSync(path.join(dir, "raw.bin"), "w");
  fs.ftruncateSync(fd, bytes); // sized up front, as the writer sizes its files
  let pos = 0;
  const w = CheckpointWriter.create(path.join(dir, "ckpt"), tensors, { shardSize: "500MB", fsync: false });
  // alternate chunk by chunk: writeback throttling (dirty page limits) then hits both alike
  for (const t of tensors) {
    for (let s = 0; s < TENSOR; s += CHUNK) {
      raw.time(() => {
        for (let q = 0; q < encoded.length; q += RAW_WRITE) pos += fs.writeSync(fd, encoded, q, RAW_WRITE, pos);
      });
      ours.time(() => w.writeF32(t.name, s, src));
    }
  }
  fs.closeSync(fd);
  ours.time(() => w.commit());
  report("write", ["fs.writeSync", raw], [["CheckpointWriter.writeF32 (encode + pwrite)", ours]], CHUNK * 2, bytes);
}

function benchRead(ckptDir: string, bytes: number, chunk: number): void {
  const ckpt = openCheckpoint(ckptDir);
  const buf = new Uint8Array(chunk * 2);
  const out = new Float32Array(chunk);
  const own = allocF32(chunk);
  const fds = new Map(ckpt.files.map((f) => [f.path, fs.openSync(f.path, "r")]));
  const raw = new Timer();
  const decoded = new Timer();
  const ranges = new Timer();
  const inPlace = new Timer();
  let sink = 0;
  for (let pass = 0; pass < 2; pass++) {
    // pass 0 warms the page cache (and the JIT); pass 1 is measured
    for (const t of ckpt.tensors) {
      const fd = fds.get(t.file)!;
      const timed = (timer: Timer, fn: () => void) => (pass === 1 ? timer.time(fn) : fn());
      for (let s = 0; s < t.byteLength; s += buf.length) timed(raw, () => void fs.readSync(fd, buf, 0, buf.length, t.offset + s));
      for (let s = 0; s < t.numel; s += chunk) timed(decoded, () => void (sink += ckpt.readF32(t.name, s, chunk, out)[7]));
      for (let s = 0; s < t.numel; s += chunk) timed(inPlace, () => void (sink += ckpt.readF32(t.name, s, chunk, own)[7]));
      for (let s = 0; s < t.byteLength; s += buf.length) timed(ranges, () => void (sink += ckpt.readRaw(t.name, s, buf.length, buf)[3]));
    }
  }
  for (const fd of fds.values()) fs.closeSync(fd);
  ckpt.close();
  const label = `read, chunks of ${chunk} elements`;
  report(label, ["fs.readSync", raw], [["Checkpoint.readF32 into a Float32Array (pread + decode + copy)", decoded], ["Checkpoint.readF32 into allocF32 (pread + decode in place)", inPlace], ["Checkpoint.readRaw", ranges]], chunk * 2, bytes);
  if (Number.isNaN(sink)) console.log("(unreachable)");
}
