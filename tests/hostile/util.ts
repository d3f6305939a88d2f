/**
 * Helpers for the hostile tests (issue #17): tiny checkpoints written here,
 * independently of the project's writer (names given as a list, so that
 * `__proto__` is an ordinary tensor name), byte-exact snapshots of a
 * directory tree, and the "no internal error" assertion.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { tempDir } from "../helpers.js";

export interface RawSpec {
  name: string;
  shape: number[];
  /** float32 values (F32 written). */
  values: ArrayLike<number>;
}

/** The JSON text of a header object whose keys come from a list (own keys, `__proto__` included). */
function headerJson(entries: Array<[string, unknown]>, metadata?: Record<string, string>): string {
  const parts = entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  if (metadata) parts.unshift(`"__metadata__":${JSON.stringify(metadata)}`);
  return `{${parts.join(",")}}`;
}

/** Write an F32 safetensors file (the reference format: u64 LE header length, JSON header, data). */
export function writeF32(file: string, tensors: RawSpec[], metadata?: Record<string, string>): void {
  let offset = 0;
  const entries: Array<[string, unknown]> = [];
  const bufs: Buffer[] = [];
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    entries.push([t.name, { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * n] }]);
    bufs.push(Buffer.from(Float32Array.from(t.values).buffer));
    offset += 4 * n;
  }
  let json = headerJson(entries, metadata);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...bufs]));
}

/** Read an F32 safetensors file written by anyone: name → values (header keys read as own keys). */
export function readF32(file: string): Map<string, Float32Array> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, Float32Array>();
  for (const name of Object.keys(header)) {
    if (name === "__metadata__") continue;
    const e = header[name]!;
    expect(e.dtype).toBe("F32");
    const [b, en] = e.data_offsets;
    const bytes = buf.subarray(8 + n + b, 8 + n + en);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}

/** A small model: `layers` layers of 4×4 weights plus a norm, values a function of `seed`. */
export function smallModel(seed: number, layers = 2): RawSpec[] {
  const out: RawSpec[] = [];
  for (let l = 0; l < layers; l++) {
    out.push({ name: `model.layers.${l}.mlp.weight`, shape: [4, 4], values: Array.from({ length: 16 }, (_, i) => Math.sin(seed * 7 + l * 3 + i) / 4) });
  }
  out.push({ name: "model.norm.weight", shape: [4], values: [1 + seed / 8, 1, 1, 1] });
  return out;
}

/**
 * A workspace: models/a and models/b (model.safetensors + config.json),
 * with values from different seeds. Returns its path.
 */
export function workspace(prefix = "mergelab-hostile-"): string {
  const dir = tempDir(prefix);
  for (const [name, seed] of [["a", 1], ["b", 2]] as const) {
    writeF32(path.join(dir, "models", name, "model.safetensors"), smallModel(seed));
    fs.writeFileSync(path.join(dir, "models", name, "config.json"), `{"model_type": "llama", "name": "${name}"}\n`);
  }
  return dir;
}

/** Every entry under `dir` (relative path → "d", "l:target" or the file's sha256): byte-exact and type-exact. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out[rel] = `l:${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      if (rel) out[rel] = "d";
      for (const n of fs.readdirSync(abs).sort()) walk(rel ? path.join(rel, n) : n);
    } else if (st.isFile()) out[rel] = crypto.createHash("sha256").update(fs.readFileSync(abs)).digest("hex");
    else out[rel] = "other";
  };
  walk("");
  return out;
}

/** A user error (or success): never an internal error, a stack trace, a signal death or a hang. */
export function expectClean(r: { code: number | null; stdout: string; stderr: string }, context = ""): void {
  const all = `${context}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  expect(r.code, all).not.toBeNull(); // null: killed by a signal or the timeout
  expect([0, 1, 2], all).toContain(r.code);
  expect(r.stderr, all).not.toMatch(/internal error/);
  expect(r.stderr, all).not.toMatch(/\n\s+at \S+ \(|\n\s+at file:|\n\s+at node:/);
  expect(r.stderr, all).not.toMatch(/RangeError|TypeError|ReferenceError|Maximum call stack/);
}

/** Entries of `dir` (recursively) whose names look like a writer's leftovers: temp, old or journal files. */
export function strayTemps(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const rel = path.relative(dir, path.join(d, e.name));
      if (/\.tmp-|\.old-|\.commit-|\.partial|finalize\.journal/.test(e.name)) out.push(rel);
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}
