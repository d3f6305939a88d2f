/**
 * Every registered method on the shared tiny fixtures (tiny-llama bf16
 * sharded, f16, f32: same shapes; mixed-int-buffer with an I64 buffer):
 * output shapes and dtypes right, finite wherever all inputs are finite, the
 * I64 buffer carried through byte for byte.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type ModelValue } from "../../../engine/index.js";
import { saveModel } from "../../../engine/exec/index.js";
import { specs as methodSpecs } from "../../../stdlib/methods/index.js";
import { invoke } from "../../../stdlib/methods/define.js";
import type { FunctionSpec } from "../../../stdlib/spec.js";
import type { Value } from "../../../core/values.js";
import { expected, fixtures, tempDir } from "../../helpers.js";
import { readSafetensors } from "./st.js";

const methods = methodSpecs.filter((s) => s.category === "method");

/** Arguments for any method from a pool of models: list params get all, single-model params one each. */
function argsFor(spec: FunctionSpec, pool: ModelValue[], base: ModelValue): Record<string, Value> {
  const args: Record<string, Value> = {};
  let next = 0;
  for (const p of spec.params) {
    const types = Array.isArray(p.type) ? p.type : [p.type];
    if (p.name === "base") args.base = base;
    else if (types.includes("models")) args[p.name] = spec.name === "nuslerp" ? pool.slice(0, 2) : pool; // nuslerp: exactly two
    else if (types.includes("model")) args[p.name] = pool[next++ % pool.length];
  }
  if (spec.name.startsWith("dare")) args.p = 0.5; // keep enough elements to see them
  if (spec.name === "nearswap") args.t = 0.01; // its one required number
  return args;
}

function readDir(dir: string) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".safetensors"));
  return Object.assign({}, ...files.map((f) => readSafetensors(path.join(dir, f)))) as ReturnType<typeof readSafetensors>;
}

let out: string;
beforeAll(() => {
  out = tempDir("mergelab-conformance-");
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe("every method on the tiny-llama fixtures", () => {
  const bf16 = () => loadModel(path.join(fixtures, "tiny-llama-bf16-sharded"));
  const f16 = () => loadModel(path.join(fixtures, "tiny-llama-f16"));
  const f32 = () => loadModel(path.join(fixtures, "tiny-llama-f32.safetensors"));

  it("registers the methods of the design", () => {
    expect(methods.map((s) => s.name).sort()).toEqual(
      ["arcee_fusion", "average", "breadcrumbs", "breadcrumbs_ties", "dare_linear", "dare_ties", "della", "della_linear", "karcher", "linear", "model_stock", "multislerp", "nearswap", "nuslerp", "passthrough", "ram", "ramplus_tl", "sce", "slerp", "task_arithmetic", "ties"].sort(),
    );
  });

  for (const spec of methods) {
    it(`${spec.name}: shapes, dtypes, finite where the inputs are`, async () => {
      const pool = [bf16(), f16(), f32()];
      const model = invoke(spec, argsFor(spec, pool, f16())) as ModelValue;
      const dir = path.join(out, spec.name);
      await saveModel(model, dir, { overwrite: true });
      const got = readDir(dir);
      const shapes = expected["tiny-llama-f16"];
      expect(Object.keys(got).sort()).toEqual(Object.keys(shapes).sort());
      const inputs = [readDir(path.join(fixtures, "tiny-llama-bf16-sharded")), readDir(path.join(fixtures, "tiny-llama-f16")), readSafetensors(path.join(fixtures, "tiny-llama-f32.safetensors"))];
      // the output follows the base (f16) when there is one, else the first model
      const primaryDtype = spec.params.some((p) => p.name === "base") ? "F16" : "BF16";
      let checked = 0;
      for (const [name, t] of Object.entries(got)) {
        expect(t.shape, name).toEqual(shapes[name].shape);
        expect(t.dtype, name).toBe(primaryDtype);
        const vals = t.values!;
        for (let j = 0; j < vals.length; j++) {
          // (an input of 65536 legitimately overflows to Inf in an f16 output: skip those)
          if (inputs.every((m) => Number.isFinite(m[name].values![j]) && Math.abs(m[name].values![j]) < 65504)) {
            expect(Number.isFinite(vals[j]), `${name}[${j}] = ${vals[j]}`).toBe(true);
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(800);
      // non-weight files come from the base / first model
      expect(fs.existsSync(path.join(dir, "config.json"))).toBe(true);
    });
  }
});

describe("mixed-int-buffer: the I64 buffer is carried through", () => {
  let variant: string;
  beforeAll(() => {
    // a second checkpoint with the same I64 buffer and different float values
    const src = fs.readFileSync(path.join(fixtures, "mixed-int-buffer.safetensors"));
    const n = Number(src.readBigUInt64LE(0));
    const header = JSON.parse(src.subarray(8, 8 + n).toString("utf8"));
    const copy = Buffer.from(src);
    const [s, e] = header.w.data_offsets as [number, number];
    for (let o = 8 + n + s; o < 8 + n + e; o += 4) copy.writeFloatLE(copy.readFloatLE(o) * 1.5 + 0.25, o);
    variant = path.join(out, "mixed-variant.safetensors");
    fs.writeFileSync(variant, copy);
  });

  for (const spec of methods) {
    it(`${spec.name}`, async () => {
      const orig = loadModel(path.join(fixtures, "mixed-int-buffer.safetensors"));
      const pool = [loadModel(variant), orig, loadModel(variant, { label: "variant-2" })];
      const model = invoke(spec, argsFor(spec, pool, orig)) as ModelValue;
      const dir = path.join(out, `mixed-${spec.name}`);
      await saveModel(model, dir, { overwrite: true });
      const got = readDir(dir);
      const want = readSafetensors(path.join(fixtures, "mixed-int-buffer.safetensors"));
      expect(got.position_ids.dtype).toBe("I64");
      expect(got.position_ids.shape).toEqual([1, 16]);
      expect(got.position_ids.bytes.equals(want.position_ids.bytes)).toBe(true);
      expect(got.w.shape).toEqual([4, 4]);
      expect(got.w.values!.every(Number.isFinite)).toBe(true);
    });
  }
});
