/**
 * The committed scale-study notebook against the committed results JSON:
 *  - every number in the notebook's text (markdown cells) is a number of the JSON, at the precision shown;
 *  - the JSON's analysis is what stdlib/eval/verdicts.ts computes from the JSON's own rows;
 *  - the notebook was executed: figures and tables are there, no errors.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../helpers.js";
import { analyse } from "../../../stdlib/eval/verdicts.js";

const nbFile = path.join(repoRoot, "notebooks", "what-matters-at-scale.ipynb");
const jsonFile = path.join(repoRoot, "notebooks", "what-matters-results.json");
const nb = JSON.parse(fs.readFileSync(nbFile, "utf8"));
const results = JSON.parse(fs.readFileSync(jsonFile, "utf8"));

const text = (src: string | string[]) => (Array.isArray(src) ? src.join("") : src);

/** Every number in a JSON value: numeric leaves, and numbers written inside its strings and keys. */
function numbersOf(v: unknown, out: number[] = []): number[] {
  if (typeof v === "number") out.push(v);
  else if (typeof v === "string") for (const m of v.matchAll(/\d+(?:\.\d+)?/g)) out.push(Number(m[0]));
  else if (Array.isArray(v)) for (const x of v) numbersOf(x, out);
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) {
    numbersOf(k, out);
    numbersOf(x, out);
  }
  return out;
}

/** Numbers written in markdown prose: not inside link targets, not part of a word (w320, PaLM-2, τ₁). */
export function numbersInMarkdown(md: string): string[] {
  const prose = md.replace(/\]\([^)]*\)/g, "]").replace(/`[^`]*`/g, "");
  return [...prose.matchAll(/(?<![\w.\-])-?\d[\d ]*(?:\.\d+)?(?![\w.]*\w)/g)].map((m) => m[0].replace(/ /g, "").trim()).filter((s) => s !== "" && s !== "-");
}

describe("notebooks/what-matters-at-scale.ipynb", () => {
  it("quotes only numbers from the results JSON", () => {
    const pool = numbersOf(results);
    const have = (shown: string) => {
      const decimals = shown.includes(".") ? shown.split(".")[1].length : 0;
      const x = Number(shown);
      return pool.some((v) => Number.isFinite(v) && (v.toFixed(decimals) === x.toFixed(decimals) || (-v).toFixed(decimals) === x.toFixed(decimals)));
    };
    const md = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "markdown").map((c: { source: string | string[] }) => text(c.source));
    const shown = md.flatMap(numbersInMarkdown);
    expect(shown.length).toBeGreaterThan(50);
    expect(shown.filter((s: string) => !have(s))).toEqual([]);
  });

  it("the number finder sees prose numbers and skips names", () => {
    expect(numbersInMarkdown("gain 0.123 [−0.01, 0.25] at w320 with PaLM-2, 1 200 images, [x](https://a/2410.03617), `npx 45`")).toEqual(["0.123", "0.01", "0.25", "1200"]);
  });

  it("holds the analysis of its own rows", () => {
    const again = analyse(results, results.design.primary_setting, results.design.initial_candidates, results.profile.reduced);
    expect(JSON.parse(JSON.stringify(again))).toEqual(results.analysis);
  });

  it("was executed: figures, tables, no errors", () => {
    const outputs = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code").flatMap((c: { outputs: Array<Record<string, unknown>> }) => c.outputs);
    expect(outputs.filter((o: Record<string, unknown>) => o.output_type === "error")).toEqual([]);
    const figures = outputs.filter((o: { data?: Record<string, unknown> }) => o.data && "application/vnd.plotly.v1+json" in o.data);
    expect(figures.length).toBeGreaterThanOrEqual(16);
    expect(results.profile.name).toBe("full");
  });
});
