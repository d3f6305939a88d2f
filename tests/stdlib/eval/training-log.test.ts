/**
 * Training chatter stays out of outputs: zoo() reports each trained checkpoint as one status line updated
 * in place (a notebook shows the latest; a CLI log shows nothing), a line each only with verbose=true,
 * and nothing with quiet.
 */
import { describe, expect, it } from "vitest";
import { trainingLog } from "../../../stdlib/eval/index.js";
import type { CallContext } from "../../../stdlib/spec.js";
import type { MimeBundle } from "../../../core/values.js";

function context(quiet = false) {
  const stdout: string[] = [];
  const shown: Array<{ bundle: MimeBundle; opts?: { displayId?: string; update?: boolean } }> = [];
  const ctx: CallContext = { cwd: ".", dryRun: false, stdout: (t) => stdout.push(t), display: (bundle, opts) => shown.push({ bundle, opts }), options: { quiet } };
  return { ctx, stdout, shown };
}

const lines = ["trained w8/base: 60 steps, loss 0.9, 1.0 s", "trained w8/expert0: 60 steps, loss 0.7, 1.1 s", "trained w8/multitask: 60 steps, loss 0.6, 1.2 s"];

describe("zoo training log", () => {
  it("by default: one display, updated in place, nothing on stdout", () => {
    const { ctx, stdout, shown } = context();
    const log = trainingLog(ctx, false, "zoo(8)");
    for (const l of lines) log(l);
    expect(stdout).toEqual([]);
    expect(shown).toHaveLength(3);
    const ids = new Set(shown.map((s) => s.opts?.displayId));
    expect(ids.size).toBe(1);
    expect(shown.map((s) => s.opts?.update)).toEqual([false, true, true]);
    expect(shown[2]!.bundle["text/plain"]).toBe("zoo(8): trained 3 checkpoints (latest: w8/multitask: 60 steps, loss 0.6, 1.2 s)");
  });

  it("verbose=true: a line per checkpoint on stdout; quiet: nothing at all", () => {
    const v = context();
    const log = trainingLog(v.ctx, true, "zoo(8)");
    for (const l of lines) log(l);
    expect(v.stdout).toEqual(lines.map((l) => l + "\n"));
    expect(v.shown).toEqual([]);
    const q = context(true);
    const quiet = trainingLog(q.ctx, true, "zoo(8)");
    for (const l of lines) quiet(l);
    expect([q.stdout, q.shown]).toEqual([[], []]);
  });
});
