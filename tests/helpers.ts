import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";
import os from "node:os";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** Checkpoints written by an independent safetensors writer (read-only). */
export const fixtures = path.resolve(repoRoot, "../shared/fixtures");
export const expected = JSON.parse(fs.readFileSync(path.join(fixtures, "expected.json"), "utf8"));

/** A fresh temporary directory, removed by the caller's afterEach/afterAll if wanted. */
export function tempDir(prefix = "mergelab-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** mulberry32: a small seeded generator for test data, so a failure is reproducible from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run the built CLI; returns exit code, stdout, stderr. */
export { runCli } from "./cli-runner.js";
