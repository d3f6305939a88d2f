// Reading and writing from worker threads with the plain-data descriptions.
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, expect, it } from "vitest";
import { CheckpointWriter, openCheckpoint } from "../../io/index.js";
import { fixtures, repoRoot, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function runWorker<T>(body: string, workerData: unknown): Promise<T> {
  const lib = JSON.stringify(path.join(repoRoot, "dist/io/index.js"));
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    import(${lib}).then((io) => { ${body} }).catch((e) => { parentPort.postMessage({ error: String(e && e.stack || e) }); });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData });
    w.once("message", (m) => (m && m.error ? reject(new Error(m.error)) : resolve(m as T)));
    w.once("error", reject);
  });
}

it("a worker reopens a checkpoint from describe() (no re-validation) and decodes what the main thread decodes", async () => {
  const c = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
  const desc = c.describe();
  expect(JSON.parse(JSON.stringify(desc))).toEqual(desc); // plain data
  const got = await runWorker<{ values: Float32Array; lmHead: Float32Array; headerReads: number; stats: unknown; simd: boolean }>(
    `const c = io.Checkpoint.fromDescription(workerData);
     const values = c.readF32("model.layers.0.input_layernorm.weight", 0, 8);
     const lmHead = c.readF32("lm_head.weight", 0, 256);
     parentPort.postMessage({ values, lmHead, headerReads: io.ioCounters.headerReads, stats: c.stats, simd: io.simdKernels() !== null });`,
    desc,
  );
  expect(got.headerReads).toBe(0);
  expect(got.simd).toBe(true);
  expect(got.stats).toEqual({ rangeReads: 2, bytesRead: 16 + 512 });
  expect(Array.from(got.values)).toEqual(Array.from(c.readF32("model.layers.0.input_layernorm.weight", 0, 8)));
  expect(Array.from(got.lmHead)).toEqual(Array.from(c.readF32("lm_head.weight", 0, 256)));
});

it("workers write chunks into the temp dir by position; the main thread commits", async () => {
  const target = path.join(dir, "out");
  const w = CheckpointWriter.create(target, [{ name: "x", dtype: "BF16", shape: [64, 100] }, { name: "y", dtype: "F16", shape: [333] }], { shardSize: 10_000 });
  const layout = w.describe();
  const jobs = [
    { name: "x", start: 3200, count: 3200 },
    { name: "x", start: 0, count: 3200 },
    { name: "y", start: 0, count: 333 },
  ];
  const results = await Promise.all(
    jobs.map((j) =>
      runWorker<{ bytes: number }>(
        `const { layout, name, start, count } = workerData;
         const data = new Float32Array(count);
         for (let i = 0; i < count; i++) data[i] = (start + i) / 7;
         const bytes = io.writeChunkF32(layout, name, start, data);
         io.closeChunkFiles(layout);
         parentPort.postMessage({ bytes });`,
        { layout, ...j },
      ),
    ),
  );
  jobs.forEach((j, i) => w.noteWritten(j.name, results[i].bytes));
  w.commit();
  const c = openCheckpoint(target);
  expect(c.files).toHaveLength(2);
  const x = c.readF32("x", 0, 6400);
  const { f32ToBf16, bf16BitsToF32 } = await import("../../io/index.js");
  for (let i = 0; i < 6400; i += 97) expect(x[i]).toBe(bf16BitsToF32(f32ToBf16(i / 7)));
  expect(c.readF32("y", 332, 1)[0]).toBe(47.4375); // 332/7 = 47.428…; f16 spacing there is 1/32
});
