/**
 * Start-up: what a user waits for before anything happens. Each figure is the median wall time of
 * several runs of a fresh process, as a ratio to `node -e 0` measured in the same run (Node's own
 * start on this machine). Goals (issue #16): `mergelab --help` ≤ 2× node's bare start; `mergelab
 * check` of a small script < 300 ms wall; the MergeLab kernel answers `kernel_info_request` < 1 s
 * after launch. Run it on a quiet machine (the load average is printed). The fresh processes are
 * interleaved (node, --help, check, ... RUNS times, the order rotating from round to round) so that a
 * change in the machine's load hits every figure alike. `mergelab check` runs the bundled CLI
 * (dist/bundle, scripts/bundle.mjs); the same check through dist/ (MERGELAB_BUNDLE=0) is printed beside it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../tests/kernel/client.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin/mergelab.js");
const RUNS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function wall(args: string[], cwd: string, env: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Milliseconds from spawning `mergelab kernel start` to its kernel_info_reply. */
async function kernelInfoLatency(dir: string): Promise<number> {
  const zmq = await import("zeromq");
  const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const key = randomUUID();
  const conn = {
    transport: "tcp", ip: "127.0.0.1", shell_port: ports[0], control_port: ports[1], stdin_port: ports[2],
    iopub_port: ports[3], hb_port: ports[4], key, signature_scheme: "hmac-sha256", kernel_name: "mergelab",
  };
  const file = path.join(dir, `kernel-${randomUUID()}.json`);
  fs.writeFileSync(file, JSON.stringify(conn));
  const shell = new zmq.Dealer();
  shell.connect(`tcp://127.0.0.1:${ports[0]}`);
  const t0 = performance.now();
  const proc = spawn(process.execPath, [bin, "kernel", "start", "--connection-file", file], { cwd: dir, stdio: "ignore" });
  try {
    const header = { msg_id: randomUUID(), session: randomUUID(), username: "bench", date: new Date().toISOString(), msg_type: "kernel_info_request", version: "5.3" };
    const parts = [JSON.stringify(header), "{}", "{}", "{}"];
    const h = createHmac("sha256", key);
    for (const p of parts) h.update(p);
    await shell.send(["<IDS|MSG>", h.digest("hex"), ...parts]); // queued until the kernel binds
    const deadline = setTimeout(() => shell.close(), 30_000);
    for await (const frames of shell) {
      const f = frames.map(String);
      const reply = JSON.parse(f[f.indexOf("<IDS|MSG>") + 2]!);
      if (reply.msg_type === "kernel_info_reply") {
        clearTimeout(deadline);
        return performance.now() - t0;
      }
    }
    throw new Error("no kernel_info_reply within 30 s");
  } finally {
    proc.kill("SIGKILL");
    shell.close();
  }
}

export default async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mergelab-startup-"));
  try {
    fs.cpSync(path.join(root, "tests/fixtures/tiny-llama-f16"), path.join(dir, "base"), { recursive: true });
    fs.cpSync(path.join(root, "tests/fixtures/tiny-llama-bf16-sharded"), path.join(dir, "expert"), { recursive: true });
    fs.writeFileSync(path.join(dir, "small.merge"), 'base = load("base")\nm = ties([load("expert")], base=base, k=0.2)\nsave(m, "out")\n');
    console.log(`${RUNS} interleaved runs each, medians; load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (quiet is < 0.5 on this 2-core machine)`);
    const bundle = path.join(root, "dist/bundle/main.js");
    const fresh = fs.existsSync(bundle) && fs.statSync(bundle).mtimeMs >= fs.statSync(path.join(root, "dist/cli/main.js")).mtimeMs;
    if (!fresh) console.log("dist/bundle is missing or older than dist/: check runs dist/ (npm run build makes both)");
    const noBundle = { MERGELAB_BUNDLE: "0" };
    wall(["-e", "0"], dir); // warm the page cache
    wall([bin, "check", "small.merge"], dir);
    wall([bin, "check", "small.merge"], dir, noBundle);
    const runs = { node: [] as number[], help: [] as number[], check: [] as number[], checkDist: [] as number[] };
    const measure: Array<() => void> = [
      () => runs.node.push(wall(["-e", "0"], dir)),
      () => runs.help.push(wall([bin, "--help"], dir)),
      () => runs.check.push(wall([bin, "check", "small.merge"], dir)),
      () => runs.checkDist.push(wall([bin, "check", "small.merge"], dir, noBundle)),
    ];
    // each round in another order: a process's position in the round (what ran just before it) biases
    // its time on a busy machine
    for (let i = 0; i < RUNS; i++) for (let j = 0; j < measure.length; j++) measure[(i + j) % measure.length]!();
    const [node, help, check, checkDist] = [median(runs.node), median(runs.help), median(runs.check), median(runs.checkDist)];
    const kernel: number[] = [];
    for (let i = 0; i < 5; i++) kernel.push(await kernelInfoLatency(dir));
    const k = median(kernel);
    const row = (what: string, ms: number, goal: string, ok: boolean) =>
      console.log(`${what.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / node).toFixed(2).padStart(5)}× node -e 0   goal ${goal}: ${ok ? "met" : "NOT met"}`);
    console.log(`${"node -e 0 (reference)".padEnd(34)} ${node.toFixed(0).padStart(6)} ms   1.00×`);
    row("mergelab --help", help, "≤ 2× node", help <= 2 * node);
    row(`mergelab check (3-line script)${fresh ? "" : " [dist/]"}`, check, "< 300 ms", check < 300);
    console.log(`${"  the same check through dist/".padEnd(34)} ${checkDist.toFixed(0).padStart(6)} ms  ${(checkDist / node).toFixed(2).padStart(5)}× node -e 0   (MERGELAB_BUNDLE=0)`);
    row("kernel launch → kernel_info_reply", k, "< 1000 ms", k < 1000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
