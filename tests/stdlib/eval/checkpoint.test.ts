import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { tempDir } from "../../helpers.js";
import { initRuntime, tf } from "../../../core/runtime.js";
import { readSafetensorsHeader } from "../../../io/index.js";
import { buildModel, fromWeights, INPUT_DIM, paramCount, toWeights } from "../../../stdlib/eval/model.js";
import { fromLayers, loadClassifier, saveClassifier, toLayers } from "../../../stdlib/eval/checkpoint.js";
import { MergelabError } from "../../../core/errors.js";

describe("layers model ↔ safetensors ↔ ModelValue", () => {
  it("round-trips bit for bit, with PyTorch names and layout", async () => {
    await initRuntime();
    const dir = path.join(tempDir("mergelab-ckpt-"), "m");
    const model = buildModel(12, 3);
    saveClassifier(model, dir, { stage: "test" });
    const header = readSafetensorsHeader(path.join(dir, "model.safetensors"));
    const shapes = Object.fromEntries(header.tensors.map((t) => [t.name, t.shape]));
    expect(shapes).toEqual({
      "layers.0.weight": [12, INPUT_DIM], "layers.0.bias": [12],
      "layers.1.weight": [12, 12], "layers.1.bias": [12],
      "layers.2.weight": [21, 12], "layers.2.bias": [21],
    });
    expect(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"))).toMatchObject({ width: 12, stage: "test" });
    const total = header.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(total).toBe(paramCount(12));

    const mv = loadClassifier(dir);
    expect([...mv.tensors.keys()].length).toBe(6);
    const back = await toLayers(mv);
    const x = tf.randomUniform([5, INPUT_DIM], 0, 1, "float32", 7);
    const [a, b] = [model.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    // kernel [in, out] in tfjs, weight [out, in] on disk
    const w0 = model.layers[0].getWeights()[0].arraySync() as number[][];
    const mem = toWeights(model)["layers.0.weight"].arraySync() as number[][];
    expect(mem[3][5]).toBe(w0[5][3]);
    const viaMemory = await toLayers(fromLayers(model, "mem"));
    expect(Array.from((viaMemory.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(a.dataSync()));
  });

  it("refuses tensors of the wrong shape, naming the tensor", async () => {
    await initRuntime();
    const w = toWeights(buildModel(8, 1));
    w["layers.1.weight"] = tf.zeros([8, 9]);
    expect(() => fromWeights(w)).toThrow(MergelabError);
    expect(() => fromWeights(w)).toThrow(/layers\.1/);
    delete w["layers.0.weight"];
    expect(() => fromWeights(w)).toThrow(/missing tensor layers\.0\.weight/);
  });
});
