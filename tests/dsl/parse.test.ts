/** Grammar: every construct parses to the AST it should, with source spans. */
import { describe, expect, it } from "vitest";
import { parse, type Expr, type Stmt } from "../../dsl/index.js";

function stmts(text: string): Stmt[] {
  const r = parse(text, "t.merge");
  expect(r.diagnostics.map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`)).toEqual([]);
  return r.program.body;
}

/** The AST without spans, for compact comparisons. */
function strip(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (k, x) => (k === "span" || k === "nameSpan" || k === "opSpan" || k === "keySpan" ? undefined : x)));
}

function expr(text: string): unknown {
  const [s] = stmts(text);
  expect(s!.kind).toBe("expr");
  return strip((s as Extract<Stmt, { kind: "expr" }>).expr);
}

const n = (value: number) => ({ kind: "number", value });
const name = (x: string) => ({ kind: "name", name: x });

describe("literals", () => {
  it("numbers with fractions and exponents", () => {
    expect(expr("1.5e-3")).toEqual(n(0.0015));
    expect(expr(".5")).toEqual(n(0.5));
    expect(expr("2E+2")).toEqual(n(200));
    expect(expr("7.")).toEqual(n(7));
    expect(expr("-3")).toEqual(n(-3));
  });
  it("strings in both quote styles with escapes", () => {
    expect(expr(`"a\\"b\\n"`)).toEqual({ kind: "string", value: 'a"b\n' });
    expect(expr(`'it\\'s\\t\\\\'`)).toEqual({ kind: "string", value: "it's\t\\" });
    expect(expr(`"\\u03bb\\u{1F600}\\x41"`)).toEqual({ kind: "string", value: "λ😀A" });
    expect(expr(`"# not a comment"`)).toEqual({ kind: "string", value: "# not a comment" });
  });
  it("booleans and none in both spellings", () => {
    expect(expr("true")).toEqual({ kind: "bool", value: true });
    expect(expr("False")).toEqual({ kind: "bool", value: false });
    expect(expr("none")).toEqual({ kind: "none" });
    expect(expr("None")).toEqual({ kind: "none" });
  });
  it("lists, dicts and records, with trailing commas", () => {
    expect(expr("[1, 2,]")).toEqual({ kind: "list", items: [n(1), n(2)] });
    expect(expr("[]")).toEqual({ kind: "list", items: [] });
    expect(expr(`{"self_attn": 0.3, "mlp": 0.1,}`)).toEqual({
      kind: "dict",
      record: false,
      entries: [
        { key: "self_attn", value: n(0.3) },
        { key: "mlp", value: n(0.1) },
      ],
    });
    expect(expr(`{k: 0.2, acc: x}`)).toEqual({ kind: "dict", record: true, entries: [{ key: "k", value: n(0.2) }, { key: "acc", value: name("x") }] });
    expect(expr("{}")).toEqual({ kind: "dict", record: false, entries: [] });
  });
});

describe("names", () => {
  it("accept Greek letters", () => {
    for (const g of ["λ", "α", "β", "γ", "δ", "ε", "τ", "μ", "σ", "λ_2", "x_λ", "ἀ"]) expect(expr(g)).toEqual(name(g));
  });
  it("keywords are not names but prefixes of names are", () => {
    expect(expr("format")).toEqual(name("format"));
    expect(expr("index")).toEqual(name("index"));
    expect(expr("nonetheless")).toEqual(name("nonetheless"));
  });
});

describe("operators", () => {
  it("precedence: * / over + -, unary minus binds tightest", () => {
    expect(expr("a + b * -c")).toEqual({
      kind: "binary",
      op: "+",
      left: name("a"),
      right: { kind: "binary", op: "*", left: name("b"), right: { kind: "unary", op: "-", operand: name("c") } },
    });
  });
  it("left associativity", () => {
    expect(expr("a - b - c")).toEqual({ kind: "binary", op: "-", left: { kind: "binary", op: "-", left: name("a"), right: name("b") }, right: name("c") });
  });
  it("comparisons below arithmetic, not/and/or below them", () => {
    expect(expr("not a + 1 < b and c or d")).toEqual({
      kind: "binary",
      op: "or",
      left: {
        kind: "binary",
        op: "and",
        left: { kind: "unary", op: "not", operand: { kind: "binary", op: "<", left: { kind: "binary", op: "+", left: name("a"), right: n(1) }, right: name("b") } },
        right: name("c"),
      },
      right: name("d"),
    });
    for (const op of ["==", "!=", "<", "<=", ">", ">="]) expect((expr(`a ${op} b`) as { op: string }).op).toBe(op);
  });
  it("parentheses", () => {
    expect(expr("(a + b) * c")).toEqual({ kind: "binary", op: "*", left: { kind: "binary", op: "+", left: name("a"), right: name("b") }, right: name("c") });
  });
});

describe("postfix", () => {
  it("calls with positional and keyword arguments (λ as a keyword)", () => {
    expect(expr("ties(experts, base=base, k=0.2, λ=1)")).toEqual({
      kind: "call",
      callee: name("ties"),
      args: [{ value: name("experts") }, { name: "base", value: name("base") }, { name: "k", value: n(0.2) }, { name: "λ", value: n(1) }],
    });
    expect(expr("f()")).toEqual({ kind: "call", callee: name("f"), args: [] });
    expect(expr("f(a,)")).toEqual({ kind: "call", callee: name("f"), args: [{ value: name("a") }] });
  });
  it("indexing, slicing and fields, chained", () => {
    expect(expr("xs[0]")).toEqual({ kind: "index", target: name("xs"), index: n(0) });
    expect(expr("xs[1:]")).toEqual({ kind: "slice", target: name("xs"), start: n(1) });
    expect(expr("xs[:-1]")).toEqual({ kind: "slice", target: name("xs"), stop: n(-1) });
    expect(expr("xs[::2]")).toEqual({ kind: "slice", target: name("xs"), step: n(2) });
    expect(expr("xs[1:3:1]")).toEqual({ kind: "slice", target: name("xs"), start: n(1), stop: n(3), step: n(1) });
    expect(expr("rs[0].acc")).toEqual({ kind: "attr", target: { kind: "index", target: name("rs"), index: n(0) }, name: "acc" });
    expect(expr("f(1)(2)")).toEqual({ kind: "call", callee: { kind: "call", callee: name("f"), args: [{ value: n(1) }] }, args: [{ value: n(2) }] });
  });
  it("list comprehensions with several for and if clauses", () => {
    expect(expr("[f(x) for x in xs]")).toEqual({
      kind: "comprehension",
      element: { kind: "call", callee: name("f"), args: [{ value: name("x") }] },
      clauses: [{ kind: "for", name: "x", iter: name("xs") }],
    });
    expect(expr("[x * y for x in xs if x > 0 for y in ys]")).toEqual({
      kind: "comprehension",
      element: { kind: "binary", op: "*", left: name("x"), right: name("y") },
      clauses: [
        { kind: "for", name: "x", iter: name("xs") },
        { kind: "if", cond: { kind: "binary", op: ">", left: name("x"), right: n(0) } },
        { kind: "for", name: "y", iter: name("ys") },
      ],
    });
  });
});

describe("statements", () => {
  it("assignments, separated by newlines or ';', comments skipped", () => {
    const s = stmts("a = 1 # one\n\n# only a comment\nb = 2; c = 3;\n");
    expect(s.map((x) => [x.kind, (x as { name?: string }).name])).toEqual([
      ["assign", "a"],
      ["assign", "b"],
      ["assign", "c"],
    ]);
  });
  it("expressions span lines inside (), [] and {}", () => {
    const s = stmts(`m = ties(
  experts,
  base=base,
  k=match({
    "self_attn": 0.3,
    "mlp": 0.1
  }, default=0.2),
)
xs = [
  1,
  2
]`);
    expect(s).toHaveLength(2);
    expect(strip((s[1] as { value: Expr }).value)).toEqual({ kind: "list", items: [n(1), n(2)] });
  });
  it("a record literal on its own line is a dict, not a block", () => {
    const s = stmts("r = {\n  k: 1,\n  acc: 2\n}");
    expect(strip(s[0])).toEqual({ kind: "assign", name: "r", value: { kind: "dict", record: true, entries: [{ key: "k", value: n(1) }, { key: "acc", value: n(2) }] } });
  });
  it("for loops with block bodies", () => {
    const [s] = stmts("for k in [0.1, 0.2] {\n  m = ties(xs, base=b, k=k)\n  save(m, \"out\")\n}");
    expect(s!.kind).toBe("for");
    const f = s as Extract<Stmt, { kind: "for" }>;
    expect(f.name).toBe("k");
    expect(f.body.map((b) => b.kind)).toEqual(["assign", "expr"]);
    expect(stmts("for k in ks { print(k) }")[0]!.kind).toBe("for");
    expect((stmts("for k in ks {}")[0] as Extract<Stmt, { kind: "for" }>).body).toEqual([]);
  });
  it("def with an expression body, defaults, and with a block body", () => {
    const [d] = stmts("def my_merge(xs, base, k=0.5) = base + k * sum(xs - base)");
    expect(strip(d)).toMatchObject({ kind: "def", name: "my_merge", params: [{ name: "xs" }, { name: "base" }, { name: "k", default: n(0.5) }] });
    expect((d as Extract<Stmt, { kind: "def" }>).body).toHaveLength(1);
    const [b] = stmts("def f(x) {\n  y = x * 2\n  y + 1\n}");
    expect((b as Extract<Stmt, { kind: "def" }>).body.map((s) => s.kind)).toEqual(["assign", "expr"]);
    expect((stmts("def g() = 1")[0] as Extract<Stmt, { kind: "def" }>).params).toEqual([]);
  });
  it("if / else if / else, with else on the next line", () => {
    const [s] = stmts("if a > 1 { b = 2 }\nelse if c { b = 3 } else {\n  b = 4\n}");
    expect(strip(s)).toMatchObject({
      kind: "if",
      cond: { kind: "binary", op: ">" },
      then: [{ kind: "assign", name: "b" }],
      else: [{ kind: "if", cond: name("c"), then: [{ kind: "assign" }], else: [{ kind: "assign", value: n(4) }] }],
    });
  });
  it("nested blocks", () => {
    const [s] = stmts("for a in xs {\n  for b in ys { if a == b { print(a) } }\n}");
    const inner = (s as Extract<Stmt, { kind: "for" }>).body[0] as Extract<Stmt, { kind: "for" }>;
    expect(inner.kind).toBe("for");
    expect(inner.body[0]!.kind).toBe("if");
  });
  it("the architecture's example script", () => {
    const s = stmts(`# comment
base    = load("models/base")
experts = load_all("models/experts/*")          # glob, sorted
tv      = experts - base                         # list op model: broadcast
m1      = base + 0.3 * sum(tv)
m2      = ties(experts, base=base, k=0.2, λ=1)  # λ and lambda are one name
m3      = dare_ties(experts, base=base, p=0.9, λ=1, seed=7)
m4      = slerp(experts[0], experts[1], t=layers([0, 0.5, 1]))
m5      = ties(experts, base=base, k=match({"self_attn": 0.3, "mlp": 0.1}, default=0.2))
save(m2, "out/ties", dtype="bf16")
print("k =", 0.2)                                # stdout
m2                                               # a trailing expression is the cell's result
`);
    expect(s.map((x) => x.kind)).toEqual([...Array(8).fill("assign"), "expr", "expr", "expr"]);
  });
});

describe("spans", () => {
  it("are 1-based lines and columns of the source", () => {
    const [s] = stmts("\n  x = foo(a,\n      bb=2)");
    const a = s as Extract<Stmt, { kind: "assign" }>;
    expect(a.nameSpan).toMatchObject({ line: 2, col: 3 });
    const call = a.value as Extract<Expr, { kind: "call" }>;
    expect(call.span).toMatchObject({ line: 2, col: 7 });
    expect(call.args[1]!.nameSpan).toMatchObject({ line: 3, col: 7, end: call.args[1]!.nameSpan!.offset + 2 });
  });
});

describe("syntax errors", () => {
  it("one per broken statement, all statements of the file", () => {
    const r = parse("a = 1 +\nb = 2\nc = 3 3\nd = (\n", "x.merge");
    expect(r.diagnostics.map((d) => [d.loc.line, d.loc.col])).toEqual([
      [1, 8],
      [3, 7],
      [4, 5],
    ]);
    expect(r.program.body.map((s) => (s as { name: string }).name)).toEqual(["b"]);
  });
});
