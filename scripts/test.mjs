#!/usr/bin/env node
// `npm test`: vitest, then one summary line that counts what never ran as well as what failed.
// A file that cannot load, a suite that throws at collection, or a run that collects no test
// fails the run: `tests: N passed, M failed (F files failed to load)`.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mergelab-vitest-"));
const out = path.join(dir, "vitest.json");
const vitest = path.join(root, "node_modules/vitest/vitest.mjs");
const args = [vitest, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });

let report;
try {
  report = JSON.parse(fs.readFileSync(out, "utf8"));
} catch {
  console.log(`tests: 0 passed, 0 failed (vitest wrote no report; exit ${r.status ?? r.signal})`);
  process.exit(1);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// A file whose suite never ran: failed with no test results (import error, throw at collection).
const unloaded = report.testResults.filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed" && a.status !== "passed"));
for (const f of unloaded) {
  console.log(`failed to load: ${path.relative(root, f.name)}: ${(f.message || "").split("\n")[0]}`);
}
const passed = report.numPassedTests;
const failed = report.numFailedTests;
console.log(`tests: ${passed} passed, ${failed} failed (${unloaded.length} files failed to load)`);
const ok = r.status === 0 && failed === 0 && unloaded.length === 0 && passed > 0;
process.exit(ok ? 0 : 1);
