/**
 * Image domains: fixed pixel permutations of the 14×14 image, optionally
 * inverted (x → 1 − x). A task's images come from one domain; the model is
 * not told which — it must recognise digits and clothes upside down, mirrored,
 * rolled or in negative. Domains are what makes an expert's skill new: the
 * bases never saw the held-in domains.
 *
 *   out[i] = invert ? 1 − in[perm[i]] : in[perm[i]]
 */
import { SIDE, PIXELS } from "./data.js";

export interface Domain {
  name: string;
  perm: Int32Array;
  invert: boolean;
}

function fromMap(name: string, src: (r: number, c: number) => [number, number], invert = false): Domain {
  const perm = new Int32Array(PIXELS);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const [sr, sc] = src(r, c);
      perm[r * SIDE + c] = sr * SIDE + sc;
    }
  }
  return { name, perm, invert };
}

const L = SIDE - 1;
const H = SIDE / 2;
const mod = (x: number) => ((x % SIDE) + SIDE) % SIDE;

/** `a` then `b`. */
export function compose(a: Domain, b: Domain): Domain {
  const perm = new Int32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) perm[i] = a.perm[b.perm[i]];
  return { name: `${a.name}+${b.name}`, perm, invert: a.invert !== b.invert };
}

let table: Record<string, Domain> | undefined;
/** The named image domains (pixel permutations), built on first use. */
export function domains(): Record<string, Domain> {
  return (table ??= buildDomains());
}

const buildDomains = (): Record<string, Domain> => Object.fromEntries(
  [
    fromMap("clean", (r, c) => [r, c]),
    // held-in domains (one per cluster)
    fromMap("negative", (r, c) => [r, c], true),
    fromMap("mirror", (r, c) => [r, L - c]),
    fromMap("upside_down", (r, c) => [L - r, c]),
    fromMap("rot90", (r, c) => [c, L - r]),
    fromMap("transpose", (r, c) => [c, r]),
    fromMap("roll_x", (r, c) => [r, mod(c + H)]),
    fromMap("roll_y", (r, c) => [mod(r + H), c]),
    fromMap("quadrant_swap", (r, c) => [r < H ? r + H : r - H, c < H ? c + H : c - H]),
    // instruction-tuning domains (disjoint from the held-in ones)
    fromMap("rot180", (r, c) => [L - r, L - c]),
    fromMap("rot270", (r, c) => [L - c, r]),
    fromMap("anti_transpose", (r, c) => [L - c, L - r]),
    fromMap("roll_xy", (r, c) => [mod(r + H), mod(c + H)]),
    fromMap("shift_3", (r, c) => [r, mod(c + 3)]),
  ].map((d) => [d.name, d]),
);

export const HELD_IN_DOMAINS = ["negative", "mirror", "upside_down", "rot90", "transpose", "roll_x", "roll_y", "quadrant_swap"];
export const INSTRUCTION_DOMAINS = ["clean", "rot180", "rot270", "anti_transpose", "roll_xy", "shift_3"];
/** Held-out: new class sets in the held-in domains, and in compositions of two of them. */
export const COMPOSED_DOMAINS: Array<[string, string]> = [
  ["negative", "mirror"],
  ["rot90", "roll_x"],
  ["upside_down", "quadrant_swap"],
  ["negative", "roll_y"],
];

const cache = new Map<string, Domain>();
/** A domain by name; "a+b" is a composed with b. */
export function domain(name: string): Domain {
  const DOMAINS = domains();
  const hit = DOMAINS[name] ?? cache.get(name);
  if (hit) return hit;
  const parts = name.split("+");
  if (parts.length < 2 || parts.some((p) => !DOMAINS[p])) throw new Error(`unknown image domain ${name}`);
  const d = parts.slice(1).reduce((acc, p) => compose(acc, DOMAINS[p]), DOMAINS[parts[0]]);
  cache.set(name, d);
  return d;
}

/** Write `src` (PIXELS floats at srcOffset) transformed by the domain into `dst` at dstOffset. */
export function applyDomain(d: Domain, src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number): void {
  const { perm, invert } = d;
  if (invert) for (let i = 0; i < PIXELS; i++) dst[dstOffset + i] = 1 - src[srcOffset + perm[i]];
  else for (let i = 0; i < PIXELS; i++) dst[dstOffset + i] = src[srcOffset + perm[i]];
}
