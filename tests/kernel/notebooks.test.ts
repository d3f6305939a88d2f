// Every notebook in notebooks/ re-executed headless by a real Jupyter client
// (nbclient, with the kernel specs `mergelab kernel install` writes), failing
// on any error output; each plot cell must have produced the plotly bundle.
// Then the executed notebook is exported to HTML (nbconvert) and rendered in
// headless Chromium: every figure is there as its static image (the pixels of
// the committed notebooks are checked in static-figures.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers.js";
import { CHROMIUM, canRun, installKernels, jupyterEnv, notebooksDir, runPython } from "./jupyter.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const runnable = canRun({ python: ["nbclient", "nbformat", "nbconvert"], chromium: true });
const notebooks = fs.readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb")).sort();
/** Our quickstarts: every plot call makes exactly one figure (no plots in loops). */
const quickstarts = new Set(["quickstart.ipynb", "quickstart-ts.ipynb"]);

interface Output {
  output_type: string;
  name?: string;
  text?: string;
  ename?: string;
  evalue?: string;
  mimes?: string[];
  plotly_is_object?: boolean;
  plotly_traces?: string[];
}
interface Report {
  error?: string;
  kernel: string;
  seconds: number;
  cells: Array<{ source: string; outputs: Output[] }>;
}

const PLOT_CALL = /\bplot(?:\.(?:line|bar|scatter|heatmap|histogram))?\(/g;
const PLOTLY = "application/vnd.plotly.v1+json";

/** The static figures of a rendered page, in page order: the SVG each <img> carries. */
function drawnFigures(dom: string): string[] {
  return [...dom.matchAll(/<img class="mergelab-static-figure" src="data:image\/svg\+xml;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1], "base64").toString("utf8"));
}

function renderInChromium(htmlFile: string): string {
  const profile = tempDir("mergelab-chromium-");
  const r = spawnSync(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=30000",
      "--dump-dom",
      `file://${htmlFile}`,
    ],
    { encoding: "utf8", timeout: 180_000, maxBuffer: 256 * 1024 * 1024 },
  );
  fs.rmSync(profile, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

describe.skipIf(!runnable)("notebooks", () => {
  let env: Record<string, string>;
  const work = tempDir("mergelab-notebooks-");
  beforeAll(() => {
    env = jupyterEnv(installKernels().jupyterPath);
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it("has the two quickstarts", () => {
    expect(notebooks).toEqual(expect.arrayContaining(["quickstart.ipynb", "quickstart-ts.ipynb"]));
  });

  for (const name of notebooks) {
    it(`${name}: executes headless without errors; plot cells give one plotly bundle per figure; the HTML export draws them`, () => {
      const html = path.join(work, name.replace(/\.ipynb$/, ".html"));
      const r = runPython([path.join(here, "execute_notebook.py"), path.join(notebooksDir, name), "--html", html, "--timeout", "600"], { env, timeout: 900_000 });
      const report = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Report;
      expect(report.error, report.error).toBeUndefined();
      expect(r.status, r.stderr.slice(-4000)).toBe(0);

      const outputs = report.cells.flatMap((c) => c.outputs);
      expect(outputs.filter((o) => o.output_type === "error")).toEqual([]);

      const figures: string[][] = [];
      for (const cell of report.cells) {
        const calls = (cell.source.match(PLOT_CALL) ?? []).length;
        const bundles = cell.outputs.filter((o) => o.mimes?.includes(PLOTLY));
        for (const b of bundles) {
          // one bundle: the plotly JSON as an object, the static SVG, HTML showing it, and text
          expect(b.plotly_is_object, cell.source).toBe(true);
          expect(b.mimes).toEqual(expect.arrayContaining([PLOTLY, "image/svg+xml", "text/html", "text/plain"]));
          expect(b.plotly_traces!.length).toBeGreaterThan(0);
          figures.push(b.plotly_traces!);
        }
        if (calls > 0) {
          if (quickstarts.has(name)) expect(bundles.length, cell.source).toBe(calls);
          else expect(bundles.length, cell.source).toBeGreaterThan(0);
        }
      }
      if (quickstarts.has(name)) {
        // line, bar, scatter, heatmap and histogram all appear
        expect(new Set(figures.flat())).toEqual(new Set(["scatter", "bar", "heatmap", "histogram"]));
      }

      // The exported page, rendered: every figure is its static image, with one group of marks per trace.
      const drawn = drawnFigures(renderInChromium(html));
      expect(drawn).toHaveLength(figures.length);
      drawn.forEach((svg, i) => {
        const kinds = figures[i];
        const marks = (svg.match(/<g class="trace (scatter|bars|heatmap)"/g) ?? []).length;
        expect(marks, `figure ${i}`).toBe(kinds.length);
        expect(svg, `figure ${i} has no drawn marks`).toMatch(/class="(point|point bar|cell|js-line)"/);
      });
    }, 1_200_000);
  }
});
