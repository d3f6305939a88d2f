// Tests that spawn the CLI or worker threads from dist/ need a fresh build (and bundle).
// tsc emits even when some file has type errors; those are reported by
// `npm run typecheck`, so a type error elsewhere does not stop every test here.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const r = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) process.stderr.write(`[global-setup] tsc reported errors (dist/ still emitted):\n${r.stdout.slice(0, 4000)}\n`);
  // the bundled CLI (what `mergelab check` runs, scripts/bundle.mjs) from this build, as `npm run build` makes it;
  // if it fails, bin/mergelab.js runs dist/ and tests/cli/bundle.test.ts fails
  const b = spawnSync(process.execPath, ["scripts/bundle.mjs"], { cwd: root, encoding: "utf8" });
  if (b.status !== 0) process.stderr.write(`[global-setup] scripts/bundle.mjs failed:\n${b.stderr.slice(0, 4000)}\n`);
}
