/**
 * The parser builds each decision's lookahead function when it first reaches it (dsl/parser.ts,
 * LazyLookahead, for start-up): building the parser computes none, and every parse — programs and
 * error messages — equals the one of a parser with chevrotain's default strategy, which builds them
 * all up front (the same module with `lookaheadStrategy` removed from the parser's config).
 */
import fs from "node:fs";
import path from "node:path";
import type { ILookaheadStrategy, IParserConfig, TokenType } from "chevrotain";
import { describe, expect, it, vi } from "vitest";
import { repoRoot } from "../helpers.js";

type Chevrotain = typeof import("../../dsl/chevrotain.js");
type Counted = { built: number };

/** dsl/parse.js over a chevrotain whose LL(k) strategy counts the lookahead functions it builds. */
async function loadParse(eager: boolean): Promise<{ parse: (typeof import("../../dsl/parse.js"))["parse"]; count: Counted }> {
  vi.resetModules();
  const count: Counted = { built: 0 };
  vi.doMock("../../dsl/chevrotain.js", async (importOriginal) => {
    const real = await importOriginal<Chevrotain>();
    // chevrotain's LL(k) strategy, counting what it builds (a constructor, as parser.ts calls it)
    function CountingLLk(o: { maxLookahead?: number }): ILookaheadStrategy {
      const llk = new real.LLkLookaheadStrategy(o);
      return {
        validate: (v) => llk.validate(v),
        initialize: (v) => llk.initialize?.(v),
        buildLookaheadForAlternation: (v) => (count.built++, llk.buildLookaheadForAlternation(v)),
        buildLookaheadForOptional: (v) => (count.built++, llk.buildLookaheadForOptional(v)),
      };
    }
    const LLk = CountingLLk as unknown as Chevrotain["LLkLookaheadStrategy"];
    class Parser extends real.CstParser {
      constructor(tokens: TokenType[], config: IParserConfig) {
        const { lookaheadStrategy, ...rest } = config;
        // eager: chevrotain's own default (every function built now), counted
        super(tokens, eager ? { ...rest, lookaheadStrategy: new LLk({ maxLookahead: rest.maxLookahead }) } : { ...rest, lookaheadStrategy });
      }
    }
    return { ...real, CstParser: Parser, LLkLookaheadStrategy: LLk };
  });
  const { parse } = await import("../../dsl/parse.js");
  vi.doUnmock("../../dsl/chevrotain.js");
  return { parse, count };
}

const golden = path.join(repoRoot, "tests/dsl/golden");
const corpus = [
  ...fs.readdirSync(golden).filter((f) => f.endsWith(".merge")).sort().map((f) => fs.readFileSync(path.join(golden, f), "utf8")),
  fs.readFileSync(path.join(repoRoot, "experiments/what-matters.merge"), "utf8"),
  'base = load("models/base")\nm = ties([load("a"), load("b")], base=base, k=0.2)\nsave(m, "out")\n',
  "def f(x, y=2) {\n  if x > y and not (x == 3) { x } else { [i * 2 for i in range(x) if i != 1] }\n}\nd = {a: 1, \"b\": [1, 2,], c: f(3)[0]}.a\n",
  "for k in [0.1, 0.2] { print(k); m = dare_ties(xs, base=b, k=k, λ=-1.5e-3) }\n",
  "x = (1 + \ny = [1, 2\nz = {a: }\nw = f(a=, b)\nv = 1 2\nu = not\n",
];

describe("lazy lookahead", () => {
  it("building the parser builds no lookahead function; a short script builds only some of what chevrotain builds up front", async () => {
    const eager = await loadParse(true);
    const upFront = eager.count.built;
    expect(upFront).toBeGreaterThan(20);
    const lazy = await loadParse(false);
    expect(lazy.count.built).toBe(0);
    lazy.parse('base = load("models/base")\nsave(base, "out")\n');
    expect(lazy.count.built).toBeGreaterThan(0);
    expect(lazy.count.built).toBeLessThan(upFront);
  });

  it("every parse of the corpus (programs and diagnostics) equals chevrotain's up-front lookahead's", async () => {
    const eager = await loadParse(true);
    const lazy = await loadParse(false);
    expect(corpus.length).toBeGreaterThan(40);
    for (const text of corpus) expect(lazy.parse(text, "x.merge")).toEqual(eager.parse(text, "x.merge"));
    expect(lazy.count.built).toBeLessThanOrEqual(eager.count.built);
  });
});
