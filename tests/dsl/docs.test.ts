/**
 * docs/language.md stays in step with the registry: every registered function
 * is documented (here or in docs/methods.md), the built-ins' headings carry
 * their current signatures, and every spec's example is valid syntax.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { allSpecs } from "../../stdlib/registry.js";
import { specs as builtins } from "../../stdlib/builtins.js";
import { parse, signature } from "../../dsl/index.js";
import { repoRoot } from "../helpers.js";

const language = fs.readFileSync(path.join(repoRoot, "docs/language.md"), "utf8");
const methodsPath = path.join(repoRoot, "docs/methods.md");
const methods = fs.existsSync(methodsPath) ? fs.readFileSync(methodsPath, "utf8") : "";

describe("docs/language.md", () => {
  it("documents every registered function (or docs/methods.md does)", () => {
    const missing = allSpecs()
      .map((s) => s.name)
      .filter((n) => !language.includes(`\`${n}\``) && !language.includes(`\`${n}(`) && !methods.includes(`\`${n}\``) && !methods.includes(`\`${n}(`));
    expect(missing).toEqual([]);
  });

  it("has a heading with the current signature of every built-in", () => {
    for (const spec of builtins) expect(language, spec.name).toContain(`### \`${signature(spec)}\``);
  });

  it("every spec's example is valid syntax", () => {
    for (const spec of allSpecs()) {
      const { diagnostics } = parse(spec.example, `${spec.name} example`);
      expect(diagnostics.map((d) => d.message), `${spec.name}: ${spec.example}`).toEqual([]);
    }
  });
});
