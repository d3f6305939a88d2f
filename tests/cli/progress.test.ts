/**
 * Progress: a live line on a terminal, plain periodic lines otherwise,
 * nothing with --quiet, a JSON summary with --json.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { repoRoot, runCli } from "../helpers.js";
import { ProgressReporter, formatDuration, progressMode, type ProgressEvent } from "../../cli/progress.js";
import { formatBytes } from "../../core/present.js";
import { fixtureWorkspace } from "./checkpoints.js";

function sink(isTTY = false) {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (s: string) => void chunks.push(s), text: () => chunks.join("") };
}

const event = (done: number, total = 10, bytesRead = done * 1e6): ProgressEvent => ({
  stage: "tensors",
  tensorsDone: done,
  tensorsTotal: total,
  bytesRead,
  bytesPerSecond: 2e6,
  tensor: `model.layers.${done}.mlp.up_proj.weight`,
});

/** Feed events 1..10 at one per `stepMs` of a fake clock. */
function feed(r: ProgressReporter, clock: { t: number }, stepMs: number) {
  for (let i = 1; i <= 10; i++) {
    clock.t += stepMs;
    r.update(event(i));
  }
}

describe("ProgressReporter", () => {
  it("without a terminal: one plain line per interval, and always the last", () => {
    const err = sink();
    const clock = { t: 0 };
    const r = new ProgressReporter({ mode: "lines", err, out: sink(), intervalMs: 2500, now: () => clock.t });
    feed(r, clock, 1000); // events at 1 s … 10 s
    const lines = err.text().split("\n").filter(Boolean);
    // printed at 1 s (first), 4 s, 7 s (≥ 2.5 s later each), 10 s (the last)
    expect(lines.map((l) => l.split("  ")[1])).toEqual(["1/10 tensors", "4/10 tensors", "7/10 tensors", "10/10 tensors"]);
    expect(lines[1]).toBe("merging  4/10 tensors  40%  4.00 MB read  2.00 MB/s  ETA 0:05  model.layers.4.mlp.up_proj.weight");
    expect(err.text()).not.toContain("\r");
  });

  it("on a terminal: one line redrawn in place, cleared before the saved line", () => {
    const err = sink(true);
    const clock = { t: 0 };
    const r = new ProgressReporter({ mode: progressMode({}, err), err, out: sink(), now: () => clock.t });
    feed(r, clock, 200);
    r.saved({ path: "out", tensors: 10, bytes: 2e6, seconds: 2, bytesRead: 1e7 });
    const text = err.text();
    expect(text.startsWith("\r\x1b[2Kmerging  1/10 tensors")).toBe(true);
    expect(text.split("\r\x1b[2K").length - 1).toBe(11); // 10 redraws + the clear
    expect(text.endsWith("\r\x1b[2Ksaved out: 10 tensors, 2.00 MB in 2.0 s (10.00 MB read)\n")).toBe(true);
    expect(text.split("\n").length).toBe(2); // no newline until the end
  });

  it("--quiet prints nothing", () => {
    const err = sink(true);
    const out = sink();
    const r = new ProgressReporter({ mode: progressMode({ quiet: true }, err), err, out });
    feed(r, { t: 0 }, 1000);
    r.saved({ path: "out", tensors: 10, bytes: 1, seconds: 1, bytesRead: 1 });
    r.finish();
    expect(err.text() + out.text()).toBe("");
  });

  it("--json prints one summary on stdout at the end, nothing else", () => {
    const err = sink();
    const out = sink();
    const clock = { t: 0 };
    const r = new ProgressReporter({ mode: progressMode({ json: true }, err), err, out, now: () => clock.t });
    feed(r, clock, 1000);
    r.saved({ path: "/x/out", tensors: 10, bytes: 2000, seconds: 10, bytesRead: 9000 });
    r.finish();
    expect(err.text()).toBe("");
    expect(JSON.parse(out.text())).toEqual({ ok: true, seconds: 10, outputs: [{ path: "/x/out", tensors: 10, bytes: 2000, seconds: 10, bytesRead: 9000 }] });
  });

  it("formats sizes and durations", () => {
    expect(formatBytes(999, 2)).toBe("999 B");
    expect(formatBytes(1536e6, 2)).toBe("1.54 GB");
    expect(formatDuration(59.6)).toBe("1:00");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(NaN)).toBe("?");
  });
});

describe("mergelab run progress (stderr is a pipe here, not a terminal)", () => {
  let work: string;
  beforeAll(() => {
    work = fixtureWorkspace("mergelab-progress-");
    fs.writeFileSync(path.join(work, "m.mlab"), 'OUT = "out"\nm = ties([load("models/f16"), load("models/f32.safetensors")], base=load("models/bf16"), k=0.5)\nsave(m, OUT)\n');
  });

  it("plain lines, one per tensor with a zero interval, then the saved line", () => {
    const r = runCli(["run", "m.mlab", "--set", 'OUT="plain"'], { cwd: work, env: { MERGELAB_PROGRESS_INTERVAL: "0" } });
    expect(r.code).toBe(0);
    const lines = r.stderr.split("\n").filter(Boolean);
    const progress = lines.filter((l) => l.startsWith("merging  "));
    expect(progress.length).toBe(9);
    progress.forEach((l, i) => expect(l).toMatch(new RegExp(`^merging  ${i + 1}/9 tensors  \\d+%  [\\d.]+ k?B read  [\\d.]+ k?B/s  ETA \\d+:\\d\\d  \\S+$`)));
    expect(lines[lines.length - 1]).toMatch(/^saved .*plain: 9 tensors, [\d.]+ k?B in [\d.]+ s \([\d.]+ kB read\)$/);
    expect(r.stderr).not.toContain("\r");
  });

  it("on a real terminal (a pty): one line redrawn in place, then the saved line", () => {
    // /usr/bin/python3 is in the Debian image CI installs; its pty module gives the CLI a terminal
    const r = spawnSync("/usr/bin/python3", ["-c", "import pty, sys; pty.spawn(sys.argv[1:])", process.execPath, path.join(repoRoot, "bin/mergelab.js"), "run", "m.mlab", "--set", 'OUT="tty"'], {
      cwd: work,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    const redraws = r.stdout.split("\r\x1b[2K").slice(1);
    expect(redraws[0]).toMatch(/^merging  1\/9 tensors  11%/);
    expect(redraws.at(-2)).toMatch(/^merging  9\/9 tensors  100%  .*  ETA 0:00  \S+$/);
    expect(redraws.at(-1)).toMatch(/^saved .*tty: 9 tensors/);
    expect(redraws.slice(0, -1).every((d) => !d.includes("\n"))).toBe(true); // progress never scrolls
  });

  it("--quiet: nothing on stdout or stderr", () => {
    const r = runCli(["run", "m.mlab", "--set", 'OUT="quiet"', "--quiet"], { cwd: work, env: { MERGELAB_PROGRESS_INTERVAL: "0" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("");
    expect(fs.existsSync(path.join(work, "quiet/model.safetensors"))).toBe(true);
  });

  it("--json: a parseable summary on stdout", () => {
    const r = runCli(["run", "m.mlab", "--set", 'OUT="json"', "--json"], { cwd: work, env: { MERGELAB_PROGRESS_INTERVAL: "0" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.outputs).toHaveLength(1);
    expect(summary.outputs[0]).toMatchObject({ path: path.join(work, "json"), tensors: 9 });
    expect(summary.outputs[0].bytes).toBe(fs.statSync(path.join(work, "json/model.safetensors")).size - headerBytes(path.join(work, "json/model.safetensors")));
  });
});

/** 8 + the header length of a safetensors file. */
function headerBytes(file: string): number {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    return 8 + Number(b.readBigUInt64LE(0));
  } finally {
    fs.closeSync(fd);
  }
}
