import { describe, expect, it } from "vitest";
import { Dict } from "../../../core/values.js";
import { normalized, tasks } from "../../../stdlib/eval/api.js";
import { taskPools, NUM_CLUSTERS } from "../../../stdlib/eval/tasks.js";
import { expertSubsets } from "../../../stdlib/eval/study.js";
import { MergelabError } from "../../../core/errors.js";

describe("task pools", () => {
  it("are disjoint: no class set in two pools", () => {
    const owner = new Map<string, string>();
    for (const [name, pool] of Object.entries(taskPools())) {
      for (const t of pool) {
        const k = t.classes.join(",");
        expect(owner.get(k), `${k} in ${name} and ${owner.get(k)}`).toBeUndefined();
        owner.set(k, name);
      }
    }
    expect(taskPools().heldIn.length).toBe(24);
    expect(taskPools().heldOut.length).toBe(12);
    expect(new Set(taskPools().heldIn.map((t) => t.domain)).size).toBe(NUM_CLUSTERS);
    for (const t of taskPools().instruction) expect(taskPools().heldIn.some((h) => h.domain === t.domain)).toBe(false);
  });

  it("are selected by name, cluster or list of clusters", () => {
    expect(tasks("held_in").tasks.length).toBe(24);
    expect(tasks(3).tasks.map((t) => t.cluster)).toEqual([3, 3, 3]);
    expect(tasks([1, 5]).tasks.length).toBe(6);
    expect(() => tasks(8)).toThrow(MergelabError);
    expect(() => tasks(8)).toThrow("tasks: cluster 8 does not exist (clusters are 0..7)");
    expect(() => tasks("held_inn")).toThrow(/unknown task set "held_inn"/);
  });

  it("normalize by the reference, task by task (the paper's metric)", () => {
    const d = (o: Record<string, number>) => new Dict(new Map(Object.entries(o)));
    // (0.8/0.9 + 0.6/0.5) / 2
    expect(normalized(d({ a: 0.8, b: 0.6 }), d({ a: 0.9, b: 0.5, c: 1 }))).toBeCloseTo((0.8 / 0.9 + 0.6 / 0.5) / 2, 12);
    expect(() => normalized(d({ a: 0.8, z: 0.5 }), d({ a: 0.9 }))).toThrow("normalized: no reference score for task z");
  });

  it("draws reproducible random expert subsets of distinct clusters", () => {
    const s = expertSubsets(4, 3, 1);
    expect(s).toEqual(expertSubsets(4, 3, 1));
    for (const x of s) {
      expect(x.length).toBe(4);
      expect(new Set(x).size).toBe(4);
      expect([...x].sort((a, b) => a - b)).toEqual(x);
    }
    expect(expertSubsets(8, 2, 1)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]]);
    expect(() => expertSubsets(9, 1, 1)).toThrow(/1\.\.8/);
  });
});
