/**
 * Issue #17, crashes: inputs that used to give a stack trace, exit 70/134 or a
 * process that never returns now give one clear error line (exit 1).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers.js";
import { expectClean, workspace, writeF32 } from "./util.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function ws(): string {
  const d = workspace();
  dirs.push(d);
  return d;
}

function check(script: string, opts: { verb?: string; timeout?: number; dir?: string } = {}) {
  const dir = opts.dir ?? ws();
  fs.writeFileSync(path.join(dir, "exp.merge"), script);
  const r = runCli([opts.verb ?? "check", "exp.merge", ...(opts.verb === "run" ? ["--quiet"] : [])], { cwd: dir, timeout: opts.timeout ?? 30_000 });
  expectClean(r, script.slice(0, 200));
  return r;
}

describe("checkpoints: only regular files are read", () => {
  it("a directory named model.safetensors", () => {
    const dir = ws();
    fs.mkdirSync(path.join(dir, "models/d/model.safetensors"), { recursive: true });
    const r = check('d = load("models/d")\n', { dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model\.safetensors.*(not a regular file|directory)/);
    expect(r.stderr).toMatch(/exp\.merge:1:\d+: error:/);
  });

  it("a FIFO named model.safetensors is refused at once, not waited on", () => {
    const dir = ws();
    fs.mkdirSync(path.join(dir, "models/f"), { recursive: true });
    execFileSync("mkfifo", [path.join(dir, "models/f/model.safetensors")]);
    const r = check('f = load("models/f")\n', { dir, timeout: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a regular file/);
    const i = runCli(["inspect", "models/f"], { cwd: dir, timeout: 20_000 });
    expectClean(i);
    expect(i.code).toBe(1);
  });

  it('a shard index entry "." (the directory itself)', () => {
    const dir = ws();
    writeF32(path.join(dir, "models/s/model-00001-of-00001.safetensors"), [{ name: "w", shape: [2], values: [1, 2] }]);
    fs.writeFileSync(path.join(dir, "models/s/model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: { w: "." } }));
    const r = check('s = load("models/s")\n', { dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/index\.json/);
    const i = runCli(["inspect", "models/s"], { cwd: dir });
    expectClean(i);
    expect(i.code).toBe(1);
  });

  it("a shard index entry that is a subdirectory", () => {
    const dir = ws();
    fs.mkdirSync(path.join(dir, "models/s/sub"), { recursive: true });
    fs.writeFileSync(path.join(dir, "models/s/model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: { w: "sub" } }));
    const r = check('s = load("models/s")\n', { dir });
    expect(r.code).toBe(1);
  });
});

describe("scripts: limits with clear errors instead of stack overflows", () => {
  it("500 nested parentheses", () => {
    const r = check(`x = ${"(".repeat(500)}1${")".repeat(500)}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exp\.merge:1:\d+: error: .*nest/);
  });

  it("a 4,000-term 1+1+…", () => {
    const r = check(`x = ${Array(4000).fill("1").join("+")}\nprint(x)\n`);
    // either computed (4000) or refused clearly: never a crash
    if (r.code === 1) expect(r.stderr).toMatch(/exp\.merge:1:\d+: error:/);
    else expect(r.code).toBe(0);
  });

  it("a 5,000-deep nested list compared with ==", () => {
    const r = check(`a = ${"[".repeat(5000)}${"]".repeat(5000)}\nb = a == a\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exp\.merge:1:\d+: error: .*nest/);
  });

  it("a deeply nested value built by a loop, compared and printed", () => {
    const r = check("x = []\nfor i in range(20000) { x = [x] }\nb = x == x\nprint(x)\n");
    if (r.code === 1) expect(r.stderr).toMatch(/exp\.merge:\d+:\d+: error: .*(nest|deep)/);
    else expect(r.code).toBe(0);
  });

  it("doubling a string 40 times", () => {
    const r = check('s = "ab"\nfor i in range(40) { s = s + s }\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exp\.merge:2:\d+: error: .*(string|long)/);
  });

  it("a list of 3,000 million-element ranges: refused before the heap runs out", () => {
    const r = check("xs = [range(1000000) for i in range(3000)]\n", { verb: "run", timeout: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exp\.merge:1:\d+: error: .*(memory|elements|too (many|large|long))/);
  });

  it("a 50,000-deep YAML config", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "deep.yml"), `models:\n  - model: ${"[".repeat(50000)}${"]".repeat(50000)}\nmerge_method: linear\n`);
    const r = runCli(["from-mergekit", "deep.yml"], { cwd: dir });
    expectClean(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deep\.yml/);
    // block nesting: 50,000 sequences in one another, "- - - … x", and a 2,000-level indented mapping
    fs.writeFileSync(path.join(dir, "deep2.yml"), `models:\n  ${"- ".repeat(50000)}x\nmerge_method: linear\n`);
    fs.writeFileSync(path.join(dir, "deep3.yml"), Array.from({ length: 2000 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " 1\n");
    const r3 = runCli(["from-mergekit", "deep3.yml"], { cwd: dir });
    expectClean(r3);
    expect(r3.code).toBe(1);
    const r2 = runCli(["from-mergekit", "deep2.yml"], { cwd: dir });
    expectClean(r2);
    expect(r2.code).toBe(1);
  });
});

describe("scripts: fuzzer finds", () => {
  for (const call of ["max(xs=1)", "print(values=1)", "min(xs=[1])", "print(values=[1, 2])"]) {
    it(`a rest parameter given by keyword: ${call}`, () => {
      const r = check(`x = ${call}\n`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/exp\.merge:1:\d+: error:/);
    });
  }

  for (const [label, script] of [
    ["explain([base, nope])", 'a = load("models/a")\nexplain([a, nope])\n'],
    ["load([nope])", "load([nope])\n"],
    ["sum([a, nope])", 'a = load("models/a")\nx = sum([a, nope])\n'],
    ["linear([a, nope])", 'a = load("models/a")\nx = linear([a, nope])\n'],
  ] as const) {
    it(`a typo inside a list argument: ${label}`, () => {
      const r = check(script);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/unknown name 'nope'|'nope' is not defined|nope/);
      expect(r.stderr).toMatch(/exp\.merge:\d+:\d+: error:/);
    });
  }
});

describe("inspect escapes control characters from files", () => {
  it("ANSI/OSC sequences in tensor names and metadata are printed escaped", () => {
    const dir = ws();
    const evil = "w\u001b]0;pwned\u0007\u001b[31mred\u001b[0m\r\u0008";
    writeF32(path.join(dir, "models/e/model.safetensors"), [{ name: evil, shape: [2], values: [1, 2] }], { note: "x\u001b[2Jclear" });
    for (const args of [["inspect", "models/e"], ["inspect", "models/e", "--json"]]) {
      const r = runCli(args, { cwd: dir });
      expectClean(r);
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u009b]/);
      expect(r.stdout).toMatch(/pwned/);
    }
  });
});

describe("--chunk-size is bounded", () => {
  it("--chunk-size 1 is refused with the allowed range", () => {
    const dir = ws();
    fs.writeFileSync(path.join(dir, "exp.merge"), 'a = load("models/a")\nsave(a, "out")\n');
    const r = runCli(["run", "exp.merge", "--chunk-size", "1"], { cwd: dir });
    expectClean(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--chunk-size/);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });
});
