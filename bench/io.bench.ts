/**
 * Checkpoint I/O throughput on a bf16 checkpoint, against plain sequential
 * `fs` reads and writes of the same bytes in the same run.
 *
 * - write: CheckpointWriter.writeF32 (float32 → bf16 RNE encode + positioned
 *   write, sharded, temp dir + rename) vs fs.writeSync of pre-encoded bytes;
 * - read: Checkpoint.readF32 (positioned read + bf16 → float32 decode) and
 *   readRaw vs fs.readSync of the same files, page cache warm.
 * Throughput is in checkpoint bytes (bf16) per second. Goal: decoding reads
 * ≥ 0.7 of the raw read speed. Size: MERGELAB_BENCH_IO_MB (default 1024).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CheckpointWriter, openCheckpoint, type OutputTensor } from "../kernel/io/index.js";

const CHUNK = 1 << 20; // elements per chunk (2 MB of bf16, 4 MB of float32)
const REPEATS = 3;

function timeBest(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

const mbps = (bytes: number, s: number) => bytes / 1e6 / s;

export default async function bench(): Promise<void> {
  const totalMB = Number(process.env.MERGELAB_BENCH_IO_MB ?? 1024);
  const elemsPerTensor = 32 * CHUNK; // 64 MB of bf16
  const nTensors = Math.max(1, Math.round((totalMB * 1e6) / (2 * elemsPerTensor)));
  const tensors: OutputTensor[] = Array.from({ length: nTensors }, (_, i) => ({ name: `model.layers.${i}.mlp.weight`, dtype: "BF16", shape: [elemsPerTensor / 4096, 4096] }));
  const bytes = nTensors * elemsPerTensor * 2;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mergelab-bench-io-"));
  const src = new Float32Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) src[i] = Math.sin(i) * 3;
  const encoded = new Uint8Array(CHUNK * 2);
  try {
    console.log(`bf16 checkpoint: ${nTensors} tensors × ${elemsPerTensor} elements = ${(bytes / 1e6).toFixed(0)} MB, shards of 500MB, chunks of ${CHUNK} elements`);

    // ---- write
    const target = path.join(dir, "ckpt");
    const writeCkpt = () => {
      const w = CheckpointWriter.create(target, tensors, { shardSize: "500MB", overwrite: true, fsync: false });
      for (const t of tensors) for (let s = 0; s < elemsPerTensor; s += CHUNK) w.writeF32(t.name, s, src);
      w.commit();
    };
    const rawFile = path.join(dir, "raw.bin");
    const writeRaw = () => {
      const fd = fs.openSync(rawFile, "w");
      for (let done = 0; done < bytes; done += encoded.length) fs.writeSync(fd, encoded, 0, encoded.length);
      fs.closeSync(fd);
    };
    const tRawWrite = timeBest(writeRaw);
    const tWrite = timeBest(writeCkpt);
    report("write", "fs.writeSync", tRawWrite, "CheckpointWriter.writeF32 (encode)", tWrite, bytes);

    // ---- read (page cache warm: every file was just written and is read once more here)
    const ckpt = openCheckpoint(target);
    const files = ckpt.files.map((f) => f.path);
    const buf = new Uint8Array(CHUNK * 2);
    const readFiles = () => {
      for (const f of files) {
        const fd = fs.openSync(f, "r");
        while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
        fs.closeSync(fd);
      }
    };
    readFiles();
    const out = new Float32Array(CHUNK);
    let sink = 0;
    const readDecoded = () => {
      for (const t of ckpt.tensors) for (let s = 0; s < t.numel; s += CHUNK) sink += ckpt.readF32(t.name, s, Math.min(CHUNK, t.numel - s), out)[7];
    };
    const readRawRanges = () => {
      for (const t of ckpt.tensors) for (let s = 0; s < t.byteLength; s += buf.length) sink += ckpt.readRaw(t.name, s, Math.min(buf.length, t.byteLength - s), buf)[3];
    };
    const tRawRead = timeBest(readFiles);
    const tDecoded = timeBest(readDecoded);
    const tRange = timeBest(readRawRanges);
    const tRawRead2 = timeBest(readFiles);
    const tRaw = Math.min(tRawRead, tRawRead2);
    report("read", "fs.readSync (sequential)", tRaw, "Checkpoint.readF32 (decode)", tDecoded, bytes);
    report("read", "fs.readSync (sequential)", tRaw, "Checkpoint.readRaw", tRange, bytes);
    ckpt.close();
    if (Number.isNaN(sink)) console.log("(sink)");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(what: string, refName: string, tRef: number, name: string, t: number, bytes: number): void {
  const ref = mbps(bytes, tRef);
  const ours = mbps(bytes, t);
  console.log(`${what}: ${refName} ${ref.toFixed(0)} MB/s; ${name} ${ours.toFixed(0)} MB/s; ratio ${(ours / ref).toFixed(2)}`);
}
