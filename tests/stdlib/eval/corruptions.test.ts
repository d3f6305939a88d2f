/**
 * The scale study v2's image corruptions (what each one does to pixels, seeded randomness, "a@s+b"
 * compositions), its task pools, and the two-learning-rate training of the lazy-width manipulation.
 */
import { describe, expect, it } from "vitest";
import { applyCorruption, HELD_IN_CORRUPTIONS, HELD_OUT_CORRUPTIONS, INSTRUCTION_CORRUPTIONS, SEVERITY } from "../../../stdlib/eval/corruptions.js";
import { PIXELS, SIDE } from "../../../stdlib/eval/data.js";
import { rng } from "../../../stdlib/eval/tasks.js";
import { scalePools, scaleTasks } from "../../../stdlib/eval/scale.js";
import { initRuntime } from "../../../core/runtime.js";
import { buildModel } from "../../../stdlib/eval/model.js";
import { train } from "../../../stdlib/eval/train.js";
import { loadImages } from "../../../stdlib/eval/data.js";
import { tempDir } from "../../helpers.js";

/** A 14×14 image: a bright 4×4 square at rows/cols 5..8, a gradient elsewhere. */
function image(): Float32Array {
  const x = new Float32Array(PIXELS);
  for (let r = 0; r < SIDE; r++) for (let c = 0; c < SIDE; c++) x[r * SIDE + c] = r >= 5 && r < 9 && c >= 5 && c < 9 ? 1 : (r + c) / 100;
  return x;
}
const run = (name: string, seed = 1) => {
  const out = new Float32Array(PIXELS);
  applyCorruption(name, image(), 0, out, 0, rng(seed));
  return out;
};

describe("corruptions", () => {
  it("contrast pulls every pixel toward grey by the severity, exactly", () => {
    const x = image();
    const y = run("contrast");
    for (let i = 0; i < PIXELS; i++) expect(y[i]).toBeCloseTo(0.5 + (x[i] - 0.5) * SEVERITY.contrast, 6);
    const z = run("contrast@0.5");
    expect(z[0]).toBeCloseTo(0.25, 6);
  });

  it("dilation never darkens and erosion never brightens; erosion removes the square's corners", () => {
    const x = image();
    const d = run("dilation");
    const e = run("erosion");
    for (let i = 0; i < PIXELS; i++) {
      expect(d[i]).toBeGreaterThanOrEqual(x[i]);
      expect(e[i]).toBeLessThanOrEqual(x[i]);
    }
    expect(d[4 * SIDE + 6]).toBe(1); // a neighbour above the square lights up
    expect(e[5 * SIDE + 5]).toBeLessThan(1); // the square's corner touches darker pixels
    expect(e[6 * SIDE + 6]).toBe(1); // its inside stays
  });

  it("shift moves the square by the severity in one of 8 directions; occlusion paints a white square", () => {
    const s = SEVERITY.shift;
    const y = run("shift", 7);
    const lit = [...y.keys()].filter((i) => y[i] === 1).map((i) => [Math.floor(i / SIDE), i % SIDE]);
    expect(lit.length).toBe(16);
    const dr = Math.min(...lit.map((p) => p[0])) - 5;
    const dc = Math.min(...lit.map((p) => p[1])) - 5;
    expect([-s, 0, s]).toContain(dr);
    expect([-s, 0, s]).toContain(dc);
    expect([dr, dc]).not.toEqual([0, 0]);
    const o = run("occlusion", 3);
    expect([...o].filter((v) => v === 1).length).toBeGreaterThanOrEqual(SEVERITY.occlusion ** 2);
  });

  it("random corruptions are reproducible from the generator and differ between draws", () => {
    for (const name of ["noise", "salt_pepper", "shift", "occlusion", "speckle"]) {
      expect(Array.from(run(name, 5))).toEqual(Array.from(run(name, 5)));
    }
    expect(Array.from(run("noise", 5))).not.toEqual(Array.from(run("noise", 6)));
    const sp = run("salt_pepper", 9);
    const x = image();
    const changed = [...sp.keys()].filter((i) => sp[i] !== x[i]).length;
    expect(changed / PIXELS).toBeGreaterThan(SEVERITY.salt_pepper / 3);
    expect(changed / PIXELS).toBeLessThan(SEVERITY.salt_pepper * 1.5);
  });

  it("a composition applies both parts in order, each at its own severity", () => {
    const a = new Float32Array(PIXELS);
    applyCorruption("contrast@0.5", image(), 0, a, 0, rng(1));
    const b = new Float32Array(PIXELS);
    applyCorruption("dilation@1", a, 0, b, 0, rng(1));
    expect(Array.from(run("contrast@0.5+dilation@1"))).toEqual(Array.from(b));
  });

  it("pools: held-in, held-out and instruction tasks are disjoint in class sets and corruptions", () => {
    const p = scalePools();
    expect(p.heldIn.length).toBe(24);
    expect(p.heldOut.length).toBe(HELD_OUT_CORRUPTIONS.length);
    const key = (c: number[]) => c.join(",");
    const sets = [...p.heldIn, ...p.heldOut, ...p.instruction].map((t) => key(t.classes));
    expect(new Set(sets).size).toBe(sets.length);
    for (const t of p.instruction) expect(INSTRUCTION_CORRUPTIONS).toContain(t.corruption);
    for (const c of HELD_IN_CORRUPTIONS) expect(INSTRUCTION_CORRUPTIONS).not.toContain(c);
    for (const t of p.heldOut) expect(HELD_IN_CORRUPTIONS).not.toContain(t.corruption);
    expect(scaleTasks([1, 3]).map((t) => t.cluster)).toEqual([1, 1, 1, 3, 3, 3]);
  });
});

describe("lazy-width training", () => {
  it("hidden layers move at lr × scale: scale 0 leaves them unchanged while the first layer trains", async () => {
    await initRuntime();
    const model = buildModel(16, 3);
    const before = model.layers.map((l) => l.getWeights().map((w) => Array.from(w.dataSync())));
    train(model, loadImages(tempDir("mergelab-lazy-")), { tasks: scaleTasks(0), rawFraction: 0 }, { steps: 5, batch: 16, lr: 1e-2, seed: 1, hiddenLrScale: 0 });
    const after = model.layers.map((l) => l.getWeights().map((w) => Array.from(w.dataSync())));
    expect(after[0][0]).not.toEqual(before[0][0]);
    expect(after[1]).toEqual(before[1]);
    expect(after[2]).toEqual(before[2]);
    model.dispose();
  });
});
