/**
 * `mergelab demo DIR`: trains the tiny experts (stdlib/eval) from scratch,
 * merges them four ways, prints the results table and writes an offline HTML
 * report with plots.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers.js";

const METHODS = ["average", "task_arithmetic", "ties", "dare_ties"];

/** Rows of the printed text tables: first cell → numbers. */
function parseRows(stdout: string): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  for (const line of stdout.split("\n")) {
    const m = /^(\w+)\s+(-?\d+\.\d{3})\s+(-?\d+\.\d{3})$/.exec(line);
    if (m) rows.set(m[1], [Number(m[2]), Number(m[3])]);
  }
  return rows;
}

describe("mergelab demo", () => {
  let dir: string;
  let first: ReturnType<typeof runCli>;
  beforeAll(() => {
    dir = path.join(tempDir("mergelab-demo-"), "out");
    first = runCli(["demo", dir], { timeout: 300_000 });
  }, 300_000);

  it("prints a results table with sane numbers", () => {
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const rows = parseRows(first.stdout);
    expect([...rows.keys()]).toEqual([...METHODS, "base", "multitask"]);
    const [baseIn, baseOut] = rows.get("base")!;
    expect(baseOut).toBe(1); // held-out is normalized by the base itself
    expect(baseIn).toBeGreaterThan(0.2);
    for (const m of METHODS) {
      const [heldIn, heldOut] = rows.get(m)!;
      // merged experts know their tasks better than the base, and stay near the base elsewhere
      expect(heldIn).toBeGreaterThan(baseIn);
      expect(heldIn).toBeLessThan(1.2);
      expect(heldOut).toBeGreaterThan(0.7);
      expect(heldOut).toBeLessThan(1.3);
    }
    expect(first.stdout).toContain(`report: ${path.join(dir, "report.html")}`);
  });

  it("writes an offline HTML report with the plotly bundle and both figures", () => {
    const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
    const plotly = fs.readFileSync(createRequire(import.meta.url).resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
    expect(html).toContain(plotly.slice(0, 2000)); // the bundle itself, inlined
    expect(html.length).toBeGreaterThan(plotly.length);
    expect(html).not.toMatch(/<script[^>]+src=/); // nothing fetched
    expect(html.match(/class="mergelab-figure"/g)?.length).toBe(2);
    expect(html).toContain("Task arithmetic: scaling λ");
    for (const m of METHODS) expect(html).toContain(`<td>${m}</td>`);
  });

  it("leaves the script and a merged checkpoint with its model card", () => {
    expect(fs.readFileSync(path.join(dir, "demo.mlab"), "utf8")).toContain("ties(experts, base=z.base, k=0.2, λ=1)");
    expect(fs.existsSync(path.join(dir, "models/ties/model.safetensors"))).toBe(true);
    expect(fs.readFileSync(path.join(dir, "models/ties/README.md"), "utf8")).toContain("- mergelab");
  });

  it("--json, rerun from the cache, gives the same numbers", () => {
    const r = runCli(["demo", dir, "--json"], { timeout: 300_000 });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const printed = parseRows(first.stdout);
    expect(out.results.map((x: { method: string }) => x.method)).toEqual(METHODS);
    for (const x of out.results) {
      expect(x.held_in.toFixed(3)).toBe(printed.get(x.method)![0].toFixed(3));
      expect(x.held_out.toFixed(3)).toBe(printed.get(x.method)![1].toFixed(3));
    }
    expect(out.sweep.length).toBe(6);
  });
});
