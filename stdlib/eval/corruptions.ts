/**
 * Image corruptions of the scale study (version 2): the held-in task
 * categories are corruptions a base model can partly see through (noise,
 * blur, low contrast, shift, occlusion, salt-and-pepper, dilation, erosion),
 * unlike the pixel permutations of version 1 (domains.ts), which a base cannot
 * do at all. Each corruption has one fixed severity (SEVERITY, part of the
 * training key); random ones (noise, shift, occlusion, …) draw from the
 * generator they are given, so a seeded caller gets the same image every time.
 *
 * Names: a corruption, or "a+b" (a then b: held-out compositions).
 */
import { SIDE, PIXELS } from "./data.js";

type Fn = (img: Float32Array, rand: () => number, severity: number) => void;

const clip = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Neighbourhood reduction (max, min or mean), `times` times, edges clamped: over the 3×3 square, or
 * (`cross`) over the pixel and its 4 neighbours.
 */
function filter3(img: Float32Array, kind: "max" | "min" | "mean", times: number, cross = false): void {
  const tmp = new Float32Array(PIXELS);
  for (let t = 0; t < times; t++) {
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        let acc = kind === "max" ? -Infinity : kind === "min" ? Infinity : 0;
        for (let dr = -1; dr <= 1; dr++) {
          for (let dc = -1; dc <= 1; dc++) {
            if (cross && dr !== 0 && dc !== 0) continue;
            const rr = Math.min(SIDE - 1, Math.max(0, r + dr));
            const cc = Math.min(SIDE - 1, Math.max(0, c + dc));
            const v = img[rr * SIDE + cc];
            acc = kind === "max" ? Math.max(acc, v) : kind === "min" ? Math.min(acc, v) : acc + v;
          }
        }
        tmp[r * SIDE + c] = kind === "mean" ? acc / 9 : acc;
      }
    }
    img.set(tmp);
  }
}

function translate(img: Float32Array, dr: number, dc: number): void {
  const tmp = new Float32Array(PIXELS);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const sr = r - dr;
      const sc = c - dc;
      tmp[r * SIDE + c] = sr >= 0 && sr < SIDE && sc >= 0 && sc < SIDE ? img[sr * SIDE + sc] : 0;
    }
  }
  img.set(tmp);
}

const DIRECTIONS: Array<[number, number]> = [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]];

const FNS: Record<string, Fn> = {
  clean: () => {},
  // held-in categories
  noise: (img, rand, s) => {
    for (let i = 0; i < PIXELS; i++) img[i] = clip(img[i] + s * gauss(rand));
  },
  blur: (img, _r, s) => filter3(img, "mean", s),
  contrast: (img, _r, s) => {
    for (let i = 0; i < PIXELS; i++) img[i] = 0.5 + (img[i] - 0.5) * s;
  },
  shift: (img, rand, s) => {
    const [dr, dc] = DIRECTIONS[Math.floor(rand() * DIRECTIONS.length)];
    translate(img, dr * s, dc * s);
  },
  occlusion: (img, rand, s) => {
    const r0 = Math.floor(rand() * (SIDE - s + 1));
    const c0 = Math.floor(rand() * (SIDE - s + 1));
    for (let r = r0; r < r0 + s; r++) for (let c = c0; c < c0 + s; c++) img[r * SIDE + c] = 1;
  },
  salt_pepper: (img, rand, s) => {
    for (let i = 0; i < PIXELS; i++) {
      const u = rand();
      if (u < s) img[i] = u < s / 2 ? 0 : 1;
    }
  },
  dilation: (img, _r, s) => filter3(img, "max", s, true),
  erosion: (img, _r, s) => filter3(img, "min", s, true),
  // instruction-tuning corruptions (the instruction-tuned base sees these, not the held-in ones)
  brightness: (img, _r, s) => {
    for (let i = 0; i < PIXELS; i++) img[i] = clip(img[i] + s);
  },
  gamma: (img, _r, s) => {
    for (let i = 0; i < PIXELS; i++) img[i] = Math.pow(img[i], s);
  },
  pixelate: (img) => {
    for (let r = 0; r < SIDE; r += 2) {
      for (let c = 0; c < SIDE; c += 2) {
        const m = (img[r * SIDE + c] + img[r * SIDE + c + 1] + img[(r + 1) * SIDE + c] + img[(r + 1) * SIDE + c + 1]) / 4;
        img[r * SIDE + c] = img[r * SIDE + c + 1] = img[(r + 1) * SIDE + c] = img[(r + 1) * SIDE + c + 1] = m;
      }
    }
  },
  mirror: (img) => {
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE / 2; c++) {
        const a = r * SIDE + c;
        const b = r * SIDE + SIDE - 1 - c;
        [img[a], img[b]] = [img[b], img[a]];
      }
    }
  },
  // unseen corruptions (held-out only)
  stripes: (img, _r, s) => {
    for (let r = 0; r < SIDE; r += s) for (let c = 0; c < SIDE; c++) img[r * SIDE + c] = 0;
  },
  speckle: (img, rand, s) => {
    for (let i = 0; i < PIXELS; i++) img[i] = clip(img[i] * (1 + s * gauss(rand)));
  },
  // the pretrained base's mild augmentation: a 1-pixel shift half the time, light noise
  augment: (img, rand, s) => {
    if (rand() < 0.5) {
      const [dr, dc] = DIRECTIONS[Math.floor(rand() * DIRECTIONS.length)];
      translate(img, dr, dc);
    }
    for (let i = 0; i < PIXELS; i++) img[i] = clip(img[i] + s * gauss(rand));
  },
};

/**
 * Severities: tuned so that the instruction-tuned base answers held-in tasks at roughly 0.65–0.75
 * and an expert gains at least 0.1 over it (see the baselines of the results JSON).
 */
export const SEVERITY: Record<string, number> = {
  clean: 0,
  noise: 0.4,
  blur: 2,
  contrast: 0.3,
  shift: 2,
  occlusion: 6,
  salt_pepper: 0.3,
  dilation: 1,
  erosion: 1,
  brightness: 0.35,
  gamma: 0.4,
  pixelate: 0,
  mirror: 0,
  stripes: 3,
  speckle: 0.9,
  augment: 0.05,
};

export const HELD_IN_CORRUPTIONS = ["noise", "blur", "contrast", "shift", "occlusion", "salt_pepper", "dilation", "erosion"];
export const INSTRUCTION_CORRUPTIONS = ["clean", "brightness", "gamma", "pixelate", "mirror"];
/**
 * Held-out: unseen class sets under compositions of two held-in corruptions at milder severities
 * ("name@severity") and under two unseen corruptions.
 */
export const HELD_OUT_CORRUPTIONS = [
  "noise@0.25+blur@1", "contrast@0.6+occlusion@4", "shift@1+salt_pepper@0.15", "dilation@1+noise@0.2",
  "erosion@1+contrast@0.6", "blur@1+shift@1", "occlusion@4+salt_pepper@0.15", "dilation@1+contrast@0.6",
  "stripes", "stripes", "speckle", "speckle",
];

export function isCorruption(name: string): boolean {
  return name.split("+").every((p) => p.split("@")[0] in FNS);
}

/** Write `src` (PIXELS floats at srcOffset) corrupted by `name` into `dst` at dstOffset. */
export function applyCorruption(name: string, src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, rand: () => number): void {
  const img = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) img[i] = src[srcOffset + i];
  for (const part of name.split("+")) {
    const [fname, sev] = part.split("@");
    const fn = FNS[fname];
    if (!fn) throw new Error(`unknown image corruption ${part}`);
    fn(img, rand, sev === undefined ? SEVERITY[fname] : Number(sev));
  }
  dst.set(img, dstOffset);
}
