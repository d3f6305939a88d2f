/**
 * Issue #17, hangs: the dry run (check, explain, run's first pass) has a step
 * budget and says so; a long evaluation in `run` stops on Ctrl-C (SIGINT).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "../helpers.js";
import { expectClean, workspace } from "./util.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function ws(): string {
  const d = workspace();
  dirs.push(d);
  return d;
}

const LOOPS = "for a in range(1e6) { for b in range(1e6) { x = a + b } }\n";
const EXPONENTIAL = "def f(n) {\n  r = n\n  if n >= 2 { r = f(n - 1) + f(n - 2) }\n  r\n}\nx = f(60)\n";

describe("the dry run is bounded", () => {
  for (const [label, script] of [["nested million-step loops", LOOPS], ["exponential recursion", EXPONENTIAL]] as const) {
    for (const verb of ["check", "explain"]) {
      it(`${verb}: ${label} stops with a clear step-budget error`, () => {
        const dir = ws();
        fs.writeFileSync(path.join(dir, "exp.merge"), script);
        const t0 = Date.now();
        const r = runCli([verb, "exp.merge"], { cwd: dir, timeout: 60_000 });
        expectClean(r, script);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(/exp\.merge:\d+:\d+: error: .*(steps|budget)/);
        expect(Date.now() - t0).toBeLessThan(45_000);
      });
    }
  }

  it("a script with a few thousand loop steps still checks", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), "s = 0\nfor i in range(5000) { s = s + i }\nprint(s)\n");
    const r = runCli(["check", "exp.merge"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("run stops on Ctrl-C during a long evaluation", () => {
  it("SIGINT while a loop runs: exits promptly, no stack trace", async () => {
    const dir = ws();
    // k depends on tensor data, which a check does not read (k is unknown there, the loops run once);
    // the real run loops 10^10 times
    fs.writeFileSync(
      path.join(dir, "exp.merge"),
      'a = load("models/a")\nk = min(len(records(layer_norms([a]))), 1) * 100000\nprint("started")\nfor i in range(k) { for j in range(k) { x = i } }\n',
    );
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), "run", "exp.merge"], { cwd: dir });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((r) => child.on("exit", (code, signal) => r({ code, signal, at: Date.now() })));
    const t0 = Date.now();
    while (!out.includes("started") && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    expect(out, err).toContain("started");
    await new Promise((r) => setTimeout(r, 1500));
    const sent = Date.now();
    child.kill("SIGINT");
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const { code, signal, at } = await exited;
    clearTimeout(killer);
    expect(signal, err).not.toBe("SIGKILL");
    expect(at - sent, err).toBeLessThan(10_000);
    expect(err).not.toMatch(/internal error|\n\s+at /);
    expect(code === 130 || code === 1 || signal === "SIGINT", `${code} ${signal}`).toBe(true);
  }, 60_000);
});
