/**
 * Golden diagnostics: every tests/dsl/golden/NAME.merge is checked (in a
 * workspace made from the shared fixtures) and its rendered diagnostics —
 * FILE:LINE:COL: error: message, source line, caret line — must equal
 * NAME.expected. No check may read tensor data.
 * Regenerate after an intended change: UPDATE_GOLDEN=1 npx vitest run tests/dsl/golden.test.ts
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { check, renderDiagnostics } from "../../dsl/index.js";
import { ioCounters } from "../../io/index.js";
import { makeWorkspace } from "./workspace.js";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "golden");
const cases = fs.readdirSync(dir).filter((f) => f.endsWith(".merge")).sort();
const ws = makeWorkspace();
afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

describe("golden diagnostics", () => {
  it("has at least 30 malformed scripts", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  for (const name of cases) {
    it(name, async () => {
      const text = fs.readFileSync(path.join(dir, name), "utf8");
      const reads = ioCounters.dataReads;
      const diagnostics = await check(text, { file: name, cwd: ws });
      expect(ioCounters.dataReads).toBe(reads);
      expect(diagnostics.length).toBeGreaterThan(0);
      const rendered = renderDiagnostics(diagnostics, text) + "\n";
      const expectedFile = path.join(dir, name.replace(/\.merge$/, ".expected"));
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(expectedFile, rendered);
      expect(rendered).toBe(fs.readFileSync(expectedFile, "utf8"));
      // nothing was written next to the workspace's inputs
      expect(fs.existsSync(path.join(ws, "out"))).toBe(false);
    });
  }
});
