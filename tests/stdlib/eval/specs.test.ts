import { describe, expect, it } from "vitest";
import { run, check } from "../../../dsl/session.js";
import { lookup } from "../../../stdlib/registry.js";
import { Dict } from "../../../core/values.js";
import { expertSubsets, PROFILES } from "../../../stdlib/eval/study.js";
import type { TaskSet } from "../../../stdlib/eval/api.js";
import { taskPools } from "../../../stdlib/eval/tasks.js";

describe("stdlib/eval in the merge language", () => {
  it("registers its functions", () => {
    for (const name of ["tasks", "evaluate", "normalized", "expert_reference", "zoo", "study_profile", "expert_subsets", "merge_with", "best", "mean_score"]) {
      expect(lookup(name)?.category, name).toBe("eval");
    }
  });

  it("selects tasks, subsets, profiles and the best record", async () => {
    const held = (await run('tasks("held_out")')).value as TaskSet;
    expect(held.tasks.map((t) => t.id)).toEqual(taskPools().heldOut.map((t) => t.id));
    expect(String(held.toMimeBundle()["text/plain"])).toContain("tasks held_out (12)");
    expect((await run("[t for t in expert_subsets(2, count=2)]")).value).toEqual(expertSubsets(2, 2, 1));
    expect((await run('study_profile("full").widths')).value).toEqual(PROFILES.full.widths);
    expect((await run('best([{a: 1, s: 0.2}, {a: 2, s: 0.9}, {a: 3, s: 0.9}], "s").a')).value).toBe(2);
    const scores = new Dict(new Map([["x", 0.5], ["y", 1]]));
    expect(lookup("mean_score")!.call({ scores }, {} as never)).toBe(0.75);
  });

  it("reports bad arguments at their place in the script", async () => {
    const d = await check('x = 1\ny = tasks(9)\n', { file: "s.merge" });
    expect(d.length).toBe(1);
    expect(d[0].message).toContain("tasks: cluster 9 does not exist (clusters are 0..7)");
    expect([d[0].loc.line, d[0].loc.file]).toEqual([2, "s.merge"]);
    const e = await check('best([], "s")', { file: "s.merge" });
    expect(e[0].message).toContain("best: empty list");
  });
});
