import { describe, expect, it } from "vitest";
import { ProgressBar, progressBundle, formatSeconds, withProgress } from "../../core/progress.js";
import { formatBytes } from "../../core/present.js";
import { tableToMimeBundle, valueToMimeBundle, formatCellNumber as formatNumber } from "../../core/present.js";
import { InterruptedError } from "../../core/errors.js";
import { Table, type MimeBundle } from "../../core/values.js";

type Sent = { bundle: MimeBundle; displayId: string; update: boolean };

describe("progress bar", () => {
  it("shows tensors done, bytes/s and ETA from elapsed time and the fraction done", () => {
    // 10 of 40 tensors after 2 s, 50 MB read: 25 MB/s, 1/4 done → ETA 3 × 2 s = 6 s
    const b = progressBundle("saving out/ties", { tensorsDone: 10, tensorsTotal: 40, bytesRead: 50e6 }, 2);
    expect(b["text/plain"]).toBe("saving out/ties [########......................] 25% · 10/40 tensors · 25.0 MB/s · ETA 6.0 s");
    expect(b["text/html"]).toContain('width:25.0%');
    const done = progressBundle("saving x", { tensorsDone: 40, tensorsTotal: 40, bytesRead: 2.5e9 }, 125, "done");
    expect(done["text/plain"]).toBe("saving x [##############################] 100% · 40/40 tensors · 20.0 MB/s · done in 2 min 5 s");
    const stage = progressBundle("saving x", { tensorsDone: 0, tensorsTotal: 40, bytesRead: 0, stage: "model statistics" }, 1);
    expect(stage["text/plain"]).toBe("saving x [..............................] 0% · model statistics · 0/40 tensors · 0 B/s");
    expect(progressBundle("a<b", { tensorsDone: 1, tensorsTotal: 2, bytesRead: 0 }, 1, "interrupted — nothing written")["text/html"]).toContain("a&lt;b");
  });

  it("displays once, then updates the same display id at most every interval (first and last always)", () => {
    const sent: Sent[] = [];
    let now = 0;
    const bar = new ProgressBar((bundle, o) => sent.push({ bundle, ...o }), "saving m", () => now, 250);
    const p = (done: number) => ({ tensorsDone: done, tensorsTotal: 4, bytesRead: done * 1000 });
    bar.update(p(1));
    now = 100;
    bar.update(p(2)); // too soon: skipped
    now = 300;
    bar.update(p(3));
    now = 310;
    bar.update(p(4)); // the last one is always sent
    now = 1000;
    bar.finish();
    expect(sent.map((s) => [s.update, String(s.bundle["text/plain"]).split("·")[1].trim()])).toEqual([
      [false, "1/4 tensors"],
      [true, "3/4 tensors"],
      [true, "4/4 tensors"],
      [true, "4/4 tensors"],
    ]);
    expect(new Set(sent.map((s) => s.displayId)).size).toBe(1);
    expect(String(sent[3].bundle["text/plain"])).toMatch(/done in 1\.0 s$/);
  });

  it("withProgress ends the bar as interrupted and rethrows; shows nothing in dry runs", async () => {
    const sent: Sent[] = [];
    const ctx = { dryRun: false, options: {}, display: (bundle: MimeBundle, o?: { displayId?: string; update?: boolean }) => sent.push({ bundle, displayId: o!.displayId!, update: !!o!.update }) };
    await expect(
      withProgress(ctx, "saving m", async (progress) => {
        progress({ tensorsDone: 1, tensorsTotal: 3, bytesRead: 10 });
        throw new InterruptedError();
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect(String(sent[sent.length - 1].bundle["text/plain"])).toMatch(/1\/3 tensors · .* · interrupted — nothing written$/);
    const quiet: Sent[] = [];
    const r = await withProgress({ ...ctx, dryRun: true, display: () => quiet.push({} as Sent) }, "x", async (progress) => (progress({ tensorsDone: 1, tensorsTotal: 1, bytesRead: 1 }), 7));
    expect(r).toBe(7);
    expect(quiet).toEqual([]);
  });

  it("formats bytes and durations", () => {
    expect([formatBytes(999), formatBytes(1500), formatBytes(2.5e9)]).toEqual(["999 B", "1.5 kB", "2.5 GB"]);
    expect([formatSeconds(3.25), formatSeconds(42), formatSeconds(3725)]).toEqual(["3.3 s", "42 s", "1 h 2 min"]);
  });
});

describe("results tables", () => {
  it("render as an HTML table with escaped cells and an aligned text table", () => {
    const t = new Table(["method", "acc", "note"], [["ties", 0.812345, "<b>"], ["average", 0.75, null]]);
    const b = tableToMimeBundle(t);
    expect(b["text/plain"]).toBe("method      acc  note\n───────  ──────  ────\nties     0.8123  <b>\naverage    0.75");
    expect(b["text/html"]).toContain("<tr><td>ties</td><td style=\"text-align:right\">0.8123</td><td>&lt;b&gt;</td></tr>");
    expect(valueToMimeBundle(t)).toEqual(b);
    expect(valueToMimeBundle(3.5)).toEqual({ "text/plain": "3.5" });
    expect([formatNumber(1234567.8), formatNumber(0.00012346), formatNumber(3)]).toEqual(["1.235e+6", "1.235e-4", "3"]);
  });
});
