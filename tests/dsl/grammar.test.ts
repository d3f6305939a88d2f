/**
 * The lexer and parser skip chevrotain's grammar validations at start-up (they cost most of the
 * language's start); here they run: building both with MERGELAB_GRAMMAR_CHECKS=1 must pass every
 * validation (no ambiguity, no left recursion, lexer optimisations applicable), and parsing with the
 * checked grammar gives the same results as with the fast one.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers.js";

const golden = path.join(repoRoot, "tests/dsl/golden");
const scripts = fs.readdirSync(golden).filter((f) => f.endsWith(".merge")).sort();

function parseAll(checks: boolean): { status: number | null; out: string; err: string } {
  const lib = pathToFileURL(path.join(repoRoot, "dist/dsl/parse.js")).href;
  const code = `
    const { parse } = await import(${JSON.stringify(lib)});
    const fs = await import("node:fs");
    const files = ${JSON.stringify(scripts.map((f) => path.join(golden, f)))};
    const out = files.map((f) => { const r = parse(fs.readFileSync(f, "utf8"), f); return { stmts: r.program.body.length, errors: r.diagnostics.map((d) => d.message) }; });
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    encoding: "utf8",
    env: { ...process.env, MERGELAB_GRAMMAR_CHECKS: checks ? "1" : "0" },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("the grammar passes chevrotain's validations", () => {
  it("builds with every validation on, and parses exactly as the fast build", () => {
    expect(scripts.length).toBeGreaterThan(10);
    const checked = parseAll(true);
    expect(checked.err).toBe("");
    expect(checked.status).toBe(0);
    const fast = parseAll(false);
    expect(fast.status).toBe(0);
    expect(JSON.parse(checked.out)).toEqual(JSON.parse(fast.out));
    // the comparison is not vacuous: some golden scripts parse, some report errors
    const results = JSON.parse(fast.out) as Array<{ stmts: number | null; errors: string[] }>;
    expect(results.some((r) => r.errors.length > 0)).toBe(true);
    expect(results.some((r) => r.errors.length === 0 && (r.stmts ?? 0) > 0)).toBe(true);
  });
});
