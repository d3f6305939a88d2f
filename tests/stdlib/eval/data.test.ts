import { describe, expect, it } from "vitest";
import path from "node:path";
import fs from "node:fs";
import { tempDir } from "../../helpers.js";
import { imageCacheFile, loadImages, NUM_CLASSES, PER_CLASS, PIXELS, readImageCache } from "../../../stdlib/eval/data.js";
import { applyDomain, compose, domain, domains, HELD_IN_DOMAINS, INSTRUCTION_DOMAINS } from "../../../stdlib/eval/domains.js";

describe("images from the npm packages", () => {
  const dir = tempDir("mergelab-images-");
  const data = loadImages(dir);

  it("has every class in every split, in the documented numbers, pixels in [0, 1]", () => {
    for (const split of ["train", "val", "test"] as const) {
      const s = data[split];
      expect(s.byClass.length).toBe(NUM_CLASSES);
      for (let c = 0; c < NUM_CLASSES; c++) expect(s.byClass[c].length, `${split} class ${c}`).toBe(PER_CLASS[split]);
      expect(s.images.length).toBe(s.labels.length * PIXELS);
      let min = Infinity, max = -Infinity, nan = 0;
      for (const x of s.images) {
        if (Number.isNaN(x)) nan++;
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      expect([nan, min >= 0, max <= 1, max > 0.9]).toEqual([0, true, true, true]);
    }
  });

  it("caches the pooled images and reads back the same values", () => {
    const file = fs.readdirSync(dir).find((f) => f.endsWith(".bin"))!;
    expect(path.join(dir, file)).toBe(imageCacheFile(dir));
    const again = readImageCache(imageCacheFile(dir));
    expect(again.test.labels).toEqual(data.test.labels);
    expect(Buffer.from(again.test.images.buffer).equals(Buffer.from(data.test.images.buffer))).toBe(true);
  });

  it("pools 2×2 blocks: digits are darker on average than clothes (mean ink)", () => {
    const meanInk = (lo: number, hi: number) => {
      let sum = 0, n = 0;
      const s = data.test;
      for (let i = 0; i < s.labels.length; i++) {
        if (s.labels[i] < lo || s.labels[i] >= hi) continue;
        for (let j = 0; j < PIXELS; j++) sum += s.images[i * PIXELS + j];
        n += PIXELS;
      }
      return sum / n;
    };
    expect(meanInk(0, 10)).toBeGreaterThan(0.08);
    expect(meanInk(0, 10)).toBeLessThan(meanInk(10, 20));
  });
});

describe("image domains", () => {
  const img = Float32Array.from({ length: PIXELS }, (_, i) => (i % 17) / 16);
  const apply = (name: string, x: Float32Array) => {
    const out = new Float32Array(PIXELS);
    applyDomain(domain(name), x, 0, out, 0);
    return out;
  };

  it("are involutions or rotations as named", () => {
    for (const d of ["mirror", "upside_down", "transpose", "negative", "roll_x", "roll_y", "quadrant_swap", "rot180", "anti_transpose", "roll_xy"]) {
      expect(apply(d, apply(d, img)), d).toEqual(img);
    }
    let x = img;
    for (let i = 0; i < 4; i++) x = apply("rot90", x);
    expect(x).toEqual(img);
    expect(apply("rot270", apply("rot90", img))).toEqual(img);
    expect(apply("mirror+upside_down", img)).toEqual(apply("rot180", img));
    expect(compose(domains().negative!, domains().negative!).invert).toBe(false);
    expect(apply("negative", img)[5]).toBeCloseTo(1 - img[5], 6);
  });

  it("keep the held-in domains out of the bases' training", () => {
    for (const d of HELD_IN_DOMAINS) expect(INSTRUCTION_DOMAINS).not.toContain(d);
    expect(() => domain("sideways")).toThrow(/unknown image domain sideways/);
  });
});
