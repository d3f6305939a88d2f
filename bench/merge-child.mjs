// One mergelab merge in a fresh process, from the compiled dist/ (worker threads
// run dist/engine/exec/worker.js): prints {seconds, maxRssMB, expertElements}.
// Usage: node bench/merge-child.mjs METHOD BASE OUT EXPERT... [name=value...]
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const load = (p) => import(pathToFileURL(path.join(root, "dist", p)).href);
const { loadModel, saveModel } = await load("engine/index.js");
const { specs } = await load("stdlib/methods/index.js");
const { invoke } = await load("stdlib/methods/define.js");

const [method, basePath, out, ...rest] = process.argv.slice(2);
const experts = rest.filter((a) => !a.includes("="));
const params = Object.fromEntries(rest.filter((a) => a.includes("=")).map((a) => {
  const [k, v] = a.split("=");
  return [k, Number.isNaN(Number(v)) ? v : Number(v)];
}));
const base = loadModel(basePath);
const xs = experts.map((e) => loadModel(e));
const spec = specs.find((s) => s.name === method);
const t0 = performance.now();
const model = invoke(spec, { xs, base, ...params });
await saveModel(model, out, { dtype: "bf16", overwrite: true });
const seconds = (performance.now() - t0) / 1000;
let expertElements = 0;
for (const t of base.tensors.values()) expertElements += t.shape.reduce((a, b) => a * b, 1) * xs.length;
console.log(JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, expertElements }));
