/**
 * The tree is the pipeline: core → io → engine → stdlib → dsl → kernel → cli (index.ts, the public API,
 * and experiments/ on top). A file may import only from its own top folder or folders to its left —
 * dynamic `import()` included. This test reads every source file's imports and fails on any import that
 * points up (to the right), which also rules out cycles between top folders.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers.js";

export const ORDER = ["core", "io", "engine", "stdlib", "dsl", "kernel", "cli", "index.ts", "experiments"] as const;

function sources(dir: string): string[] {
  const abs = path.join(repoRoot, dir);
  if (dir.endsWith(".ts")) return [dir];
  return fs.readdirSync(abs, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => path.join(dir, f));
}

/** Relative import specifiers of a file: static imports/exports and dynamic import("…"). */
export function relativeImports(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (let m; (m = re.exec(text)); ) out.push(m[1]!);
  return out;
}

function rank(file: string): number {
  const top = file.split(path.sep)[0]!;
  return ORDER.indexOf(top as (typeof ORDER)[number]);
}

export function importGraph(): Array<{ from: string; to: string }> {
  const edges: Array<{ from: string; to: string }> = [];
  for (const dir of ORDER) {
    if (!fs.existsSync(path.join(repoRoot, dir))) continue;
    for (const file of sources(dir)) {
      const text = fs.readFileSync(path.join(repoRoot, file), "utf8");
      for (const spec of relativeImports(text)) {
        const to = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, ".ts");
        edges.push({ from: file, to });
      }
    }
  }
  return edges;
}

describe("the tree is the data flow", () => {
  const edges = importGraph();

  it("reads a real graph (every pipeline folder has files that import)", () => {
    for (const dir of ["core", "io", "engine", "stdlib", "dsl", "kernel", "cli"]) {
      expect(edges.some((e) => e.from.startsWith(dir + path.sep)), dir).toBe(true);
    }
  });

  it("no import points upward or outside the pipeline", () => {
    const bad = edges
      .filter((e) => rank(e.to) < 0 || rank(e.to) > rank(e.from))
      .map((e) => `${e.from} → ${e.to}`);
    expect(bad).toEqual([]);
  });

  it("kernel/ is the Jupyter kernel only: nothing below it imports it", () => {
    const intoKernel = edges.filter((e) => e.to.startsWith("kernel" + path.sep) && !e.from.startsWith("kernel" + path.sep) && rank(e.from) < rank(e.to));
    expect(intoKernel).toEqual([]);
  });

  it("the check itself catches an upward import", () => {
    const fake = relativeImports('import { x } from "../dsl/session.js";\nconst y = await import("../cli/main.js");');
    expect(fake).toEqual(["../dsl/session.js", "../cli/main.js"]);
    const from = path.join("engine", "plan.ts");
    const to = path.normalize(path.join("engine", fake[0]!)).replace(/\.js$/, ".ts");
    expect(rank(to) > rank(from)).toBe(true);
  });
});
