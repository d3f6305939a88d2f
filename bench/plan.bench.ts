/**
 * Per-tensor overhead (issue #17): `mergelab check`, `explain` and `run` of a TIES merge of two
 * checkpoints of N small tensors (F32 [4]: almost no data, so what is measured is the bookkeeping
 * per tensor), for N = 1k, 10k and 100k. Wall time and peak RSS of each command (a fresh process),
 * as ratios against references measured in the same run:
 *
 * - the headers: a process that only opens the two checkpoints (reads and validates the headers);
 * - linearity: the time above the 1k run's, from 10k to 100k tensors (linear is 10×);
 * - memory per tensor: (peak RSS at 100k − at 1k) / 99k.
 *
 * Goals (#17): at 100k tensors each command plans in seconds and stays < 300 MB of peak RSS;
 * the per-tensor cost is linear. The checkpoints are written byte by byte (8-byte length,
 * JSON header, data) by tests/io/st-files.ts writeSmallTensors, not by mergelab's writer. Run it on a quiet machine (the load average is printed).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeSmallTensors } from "../tests/io/st-files.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin/mergelab.js");
const SIZES = [1_000, 10_000, 100_000];
// each child reports its own peak RSS when it exits
const REPORT = `data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss "+process.resourceUsage().maxRSS+"\\n"))`;

interface Measure {
  seconds: number;
  rssMB: number;
}

function measure(args: string[], cwd: string): Measure {
  fs.rmSync(path.join(cwd, "out"), { recursive: true, force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", REPORT, ...args], { cwd, encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const kb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
  return { seconds, rssMB: kb / 1024 };
}

export default async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mergelab-plan-bench-"));
  try {
    console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (quiet is < 0.5 on this 2-core machine)`);
    const rows = new Map<number, Record<string, Measure>>();
    const headersOnly = `import(${JSON.stringify(path.join(root, "dist/io/index.js"))}).then((io) => { io.openCheckpoint("a"); io.openCheckpoint("b"); })`;
    for (const n of SIZES) {
      const work = path.join(dir, String(n));
      writeSmallTensors(path.join(work, "a/model.safetensors"), n, 1, { format: "pt" });
      writeSmallTensors(path.join(work, "b/model.safetensors"), n, 2, { format: "pt" });
      fs.writeFileSync(path.join(work, "s.merge"), 'a = load("a")\nb = load("b")\nsave(ties([a, b], base=a, k=0.5), "out")\n');
      measure(["-e", headersOnly], work); // page cache
      const row: Record<string, Measure> = { headers: measure(["-e", headersOnly], work) };
      for (const verb of ["check", "explain", "run"]) row[verb] = measure([bin, verb, "s.merge", "--quiet"], work);
      rows.set(n, row);
    }
    const fmt = (m: Measure) => `${m.seconds.toFixed(2).padStart(6)} s ${m.rssMB.toFixed(0).padStart(5)} MB`;
    console.log(`${"tensors".padStart(8)}  ${["headers only", "check", "explain", "run"].map((h) => h.padStart(15)).join("  ")}`);
    for (const [n, r] of rows) console.log(`${String(n).padStart(8)}  ${["headers", "check", "explain", "run"].map((k) => fmt(r[k]!)).join("  ")}`);
    const [small, mid, big] = SIZES.map((n) => rows.get(n)!);
    console.log("");
    for (const verb of ["check", "explain", "run"]) {
      const b = big[verb]!;
      const growth = (b.seconds - small[verb]!.seconds) / Math.max(mid[verb]!.seconds - small[verb]!.seconds, 1e-3);
      const perTensorKB = ((b.rssMB - small[verb]!.rssMB) * 1024) / (SIZES[2] - SIZES[0]);
      const ok = b.rssMB < 300;
      console.log(
        `${verb.padEnd(8)} 100k: ${(b.seconds / big.headers.seconds).toFixed(2).padStart(5)}× the headers' time;` +
          ` 10k → 100k ${growth.toFixed(1).padStart(5)}× (linear 10×); ${perTensorKB.toFixed(2)} KB RSS per tensor;` +
          ` peak ${b.rssMB.toFixed(0)} MB, goal < 300 MB: ${ok ? "met" : "NOT met"}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
