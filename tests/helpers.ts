import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";
import os from "node:os";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** Checkpoints written by an independent safetensors writer (Python + numpy), committed as data: treat as read-only. */
export const fixtures = path.join(repoRoot, "tests/fixtures");
export const expected = JSON.parse(fs.readFileSync(path.join(fixtures, "expected.json"), "utf8"));

/** A fresh temporary directory, removed by the caller's afterEach/afterAll if wanted. */
export function tempDir(prefix = "mergelab-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** mulberry32, the seeded generator stdlib/eval samples with: test data reproducible from its seed. */
export { rng } from "../stdlib/eval/tasks.js";

/** Run the built CLI; returns exit code, stdout, stderr. */
export { runCli } from "./cli-runner.js";
