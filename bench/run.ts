/**
 * `npm run bench [NAME...]`: runs bench/NAME.bench.ts files in sequence (all by
 * default). Each prints its measurements as ratios against a reference
 * measured in the same run; none of them is a test.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = fs
  .readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.ts$/, "")))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks match ${wanted.join(", ")}`);
  process.exit(2);
}
for (const f of files) {
  console.log(`\n== ${f.replace(/\.bench\.ts$/, "")}`);
  const mod = await import(pathToFileURL(path.join(here, f)).href);
  await mod.default();
}
