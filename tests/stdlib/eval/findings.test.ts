import { describe, expect, it } from "vitest";
import { computeFindings } from "../../../stdlib/eval/findings.js";

/** Synthetic results built to satisfy (or violate) each finding. */
function synthetic(f: (w: number, base: string, method: string, n: number) => { held_in: number; held_out: number }) {
  const runs = [];
  for (const width of [8, 64]) for (const base of ["pretrained", "instruction_tuned"]) for (const method of ["average", "ties"]) for (const n of [2, 8]) {
    runs.push({ width, base, method, n, ...f(width, base, method, n) });
  }
  const baselines = [8, 64].flatMap((width) => ["pretrained", "instruction_tuned"].map((base) => ({ width, base, model: "multitask", held_in: 1, held_out: 1 })));
  return { runs, baselines };
}

describe("findings", () => {
  it("are all reproduced by results that follow the paper", () => {
    const res = synthetic((w, base, method, n) => {
      const big = w === 64;
      const it = base === "instruction_tuned" ? 0.05 : 0;
      const methodGap = method === "ties" ? (big ? 0.01 : 0.1) : 0;
      const drop = (n - 2) * (big ? 0.001 : 0.02);
      return { held_in: 0.7 + (big ? 0.1 : 0) + it + methodGap - drop, held_out: 1.05 };
    });
    const f = computeFindings(res);
    expect(f.map((x) => x.verdict)).toEqual(["reproduced", "reproduced", "reproduced", "reproduced", "reproduced"]);
    expect(f[0]).toMatchObject({ holds: 8, total: 8 });
    expect(f[0].evidence).toContain("w8: IT 0.");
  });

  it("are not reproduced by results that go against the paper, and mixed in between", () => {
    const res = synthetic((w, base, method, n) => {
      const big = w === 64;
      return {
        held_in: 0.9 - (big ? 0.1 : 0) - (base === "instruction_tuned" ? 0.05 : 0) - (n - 2) * (big ? 0.03 : 0.01) + (method === "ties" && big ? 0.2 : 0),
        held_out: base === "pretrained" ? 1.1 : 0.9,
      };
    });
    const f = computeFindings(res);
    expect(f[0].verdict).toBe("not reproduced");
    expect(f[2]).toMatchObject({ verdict: "mixed", holds: 8, total: 16 });
    expect(f[3].verdict).toBe("not reproduced");
    expect(f[4].verdict).toBe("not reproduced");
  });
});
