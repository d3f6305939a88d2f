/**
 * The grammar (chevrotain CstParser). Only grammar lives here; meaning is in
 * build-ast.ts. One instance, reused by resetting `.input`.
 *
 *   statement  := forStmt | defStmt | ifStmt | simpleStmt
 *   simpleStmt := expression ("=" expression)?        (target checked to be a name)
 *   forStmt    := "for" NAME "in" expression block
 *   defStmt    := "def" NAME "(" params? ")" ("=" expression | block)
 *   ifStmt     := "if" expression block ("else" (ifStmt | block))?
 *   block      := "{" (statement SEP)* "}"
 *   expression := operand (BINOP operand)*      (precedence: or < and < not < comparisons < + - < * /,
 *                                                 applied by build-ast.ts; comparisons do not chain)
 *   operand    := ("not" | "-" | "+")* atom ( "(" args ")" | "[" subscript "]" | "." NAME )*
 *   atom       := NUMBER | STRING | true | false | none | NAME | "(" expression ")" | list | dict
 *   list       := "[" (expression (compClause+ | ("," expression)* ","?))? "]"
 *   dict       := "{" (entry ("," entry)* ","?)? "}";  entry := (STRING | NAME) ":" expression
 */
import { CstParser, EOF, GRAMMAR_CHECKS, LLkLookaheadStrategy, type ILookaheadStrategy, type IParserErrorMessageProvider, type IToken, type TokenType, type CstNode } from "./chevrotain.js";
import * as T from "./tokens.js";

export function describeToken(t: IToken | undefined): string {
  if (!t || t.tokenType === EOF) return "end of input";
  if (t.tokenType === T.Sep || t.tokenType === T.Newline) return "end of line";
  if (t.tokenType === T.Identifier) return `name '${t.image}'`;
  if (t.tokenType === T.NumberLit) return `number ${t.image}`;
  if (t.tokenType === T.StringLit) return `string ${t.image}`;
  return `'${t.image}'`;
}

function label(type: TokenType): string {
  return type.LABEL ?? type.name;
}

function firstTokens(paths: TokenType[][]): string[] {
  return [...new Set(paths.map((p) => (p[0] ? label(p[0]) : "")).filter((s) => s))];
}

const friendlyRule: Record<string, string> = {
  atom: "an expression",
  expression: "an expression",
  operand: "an expression",
  statement: "a statement",
  argument: "an argument",
  entry: "a key (a string or a name)",
  param: "a parameter name",
};

export const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    if (expected === T.Sep) return `expected end of line or ';' before ${describeToken(actual)}`;
    if (expected === T.BlockOpen && ruleName !== "block") return `expected '{' to start the ${ruleName.replace("Stmt", "")} body, found ${describeToken(actual)}`;
    return `expected ${label(expected)} but found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `unexpected ${describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const what = friendlyRule[ruleName] ?? firstTokens(expectedPathsPerAlt.flat()).join(" or ");
    return `expected ${what} but found ${describeToken(actual[0])}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const what = friendlyRule[ruleName] ?? firstTokens(expectedIterationPaths).join(" or ");
    return `expected ${what} but found ${describeToken(actual[0])}`;
  },
};

const MAX_LOOKAHEAD = 3;

/**
 * chevrotain's own LL(k) lookahead, each decision's function built the first time the parser reaches
 * that decision instead of all of them when the parser is built (most of the parser's start-up; a short
 * script reaches few of them). The functions are the ones chevrotain would have built, from the same
 * grammar; the grammar checks (validate) are chevrotain's.
 */
class LazyLookahead implements ILookaheadStrategy {
  private readonly llk = new LLkLookaheadStrategy({ maxLookahead: MAX_LOOKAHEAD });

  validate(options: Parameters<ILookaheadStrategy["validate"]>[0]) {
    return this.llk.validate(options);
  }

  initialize(options: { rules: Parameters<ILookaheadStrategy["validate"]>[0]["rules"] }): void {
    this.llk.initialize?.(options);
  }

  buildLookaheadForAlternation(options: Parameters<ILookaheadStrategy["buildLookaheadForAlternation"]>[0]) {
    const llk = this.llk;
    let built: ReturnType<ILookaheadStrategy["buildLookaheadForAlternation"]> | undefined;
    return function (this: unknown, alts?: Parameters<ReturnType<ILookaheadStrategy["buildLookaheadForAlternation"]>>[0]) {
      built ??= llk.buildLookaheadForAlternation(options);
      return built.call(this, alts);
    };
  }

  buildLookaheadForOptional(options: Parameters<ILookaheadStrategy["buildLookaheadForOptional"]>[0]) {
    const llk = this.llk;
    let built: ReturnType<ILookaheadStrategy["buildLookaheadForOptional"]> | undefined;
    return function (this: unknown) {
      built ??= llk.buildLookaheadForOptional(options);
      return built.call(this);
    };
  }
}

class MergeParser extends CstParser {
  constructor() {
    super(T.allTokens, { maxLookahead: MAX_LOOKAHEAD, errorMessageProvider: messages, skipValidations: !GRAMMAR_CHECKS, lookaheadStrategy: new LazyLookahead() });
    this.performSelfAnalysis();
  }

  /** Entry point: one top-level statement and its separator. */
  statementLine = this.RULE("statementLine", () => {
    this.SUBRULE(this.statement);
    this.CONSUME(T.Sep);
  });

  statement = this.RULE("statement", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.forStmt) },
      { ALT: () => this.SUBRULE(this.defStmt) },
      { ALT: () => this.SUBRULE(this.ifStmt) },
      { ALT: () => this.SUBRULE(this.simpleStmt) },
    ]);
  });

  simpleStmt = this.RULE("simpleStmt", () => {
    this.SUBRULE(this.expression, { LABEL: "target" });
    this.OPTION(() => {
      this.CONSUME(T.Assign);
      this.SUBRULE2(this.expression, { LABEL: "value" });
    });
  });

  forStmt = this.RULE("forStmt", () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.block);
  });

  defStmt = this.RULE("defStmt", () => {
    this.CONSUME(T.Def);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.param);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      });
    });
    this.CONSUME(T.RParen);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Assign);
          this.SUBRULE(this.expression);
        },
      },
      { ALT: () => this.SUBRULE(this.block) },
    ]);
  });

  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Assign);
      this.SUBRULE(this.expression);
    });
  });

  ifStmt = this.RULE("ifStmt", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.block, { LABEL: "then" });
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        { ALT: () => this.SUBRULE(this.ifStmt, { LABEL: "elseIf" }) },
        { ALT: () => this.SUBRULE2(this.block, { LABEL: "else" }) },
      ]);
    });
  });

  block = this.RULE("block", () => {
    this.CONSUME(T.BlockOpen);
    this.MANY(() => {
      this.SUBRULE(this.statement);
      this.CONSUME(T.Sep);
    });
    this.CONSUME(T.BlockClose);
  });

  /** A flat chain `operand (op operand)*`; precedence is applied by build-ast.ts (fewer rule levels per atom). */
  expression = this.RULE("expression", () => {
    this.SUBRULE(this.operand, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BinOp, { LABEL: "ops" });
      this.SUBRULE2(this.operand, { LABEL: "operands" });
    });
  });

  /** Prefix operators, an atom and its postfix calls/indexing/fields, in one rule (fewer CST levels per atom). */
  operand = this.RULE("operand", () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.CONSUME(T.Not, { LABEL: "prefix" }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: "prefix" }) },
        { ALT: () => this.CONSUME(T.Plus, { LABEL: "prefix" }) },
      ]),
    );
    this.SUBRULE(this.atom);
    this.MANY2(() => {
      this.OR2([
        { ALT: () => this.SUBRULE(this.callSuffix, { LABEL: "suffix" }) },
        { ALT: () => this.SUBRULE(this.indexSuffix, { LABEL: "suffix" }) },
        { ALT: () => this.SUBRULE(this.attrSuffix, { LABEL: "suffix" }) },
      ]);
    });
  });

  callSuffix = this.RULE("callSuffix", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.argument);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RParen,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.argument);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  argument = this.RULE("argument", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: "name" });
          this.CONSUME(T.Assign);
          this.SUBRULE(this.expression);
        },
      },
      { ALT: () => this.SUBRULE2(this.expression) },
    ]);
  });

  indexSuffix = this.RULE("indexSuffix", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "start" }));
    this.OPTION2(() => {
      this.CONSUME(T.Colon);
      this.OPTION3(() => this.SUBRULE2(this.expression, { LABEL: "stop" }));
      this.OPTION4(() => {
        this.CONSUME2(T.Colon);
        this.OPTION5(() => this.SUBRULE3(this.expression, { LABEL: "step" }));
      });
    });
    this.CONSUME(T.RBracket);
  });

  attrSuffix = this.RULE("attrSuffix", () => {
    this.CONSUME(T.Dot);
    this.CONSUME(T.Identifier);
  });

  atom = this.RULE("atom", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.None) },
      { ALT: () => this.CONSUME(T.Identifier) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.listExpr) },
      { ALT: () => this.SUBRULE(this.dictExpr) },
    ]);
  });

  listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "items" });
      this.OR([
        { ALT: () => this.AT_LEAST_ONE(() => this.SUBRULE(this.compClause)) },
        {
          ALT: () => {
            this.MANY({
              GATE: () => this.LA(2).tokenType !== T.RBracket,
              DEF: () => {
                this.CONSUME(T.Comma);
                this.SUBRULE2(this.expression, { LABEL: "items" });
              },
            });
            this.OPTION2(() => this.CONSUME2(T.Comma));
          },
        },
      ]);
    });
    this.CONSUME(T.RBracket);
  });

  compClause = this.RULE("compClause", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.For);
          this.CONSUME(T.Identifier);
          this.CONSUME(T.In);
          this.SUBRULE(this.expression, { LABEL: "iter" });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.If);
          this.SUBRULE2(this.expression, { LABEL: "cond" });
        },
      },
    ]);
  });

  dictExpr = this.RULE("dictExpr", () => {
    this.CONSUME(T.LCurly);
    this.OPTION(() => {
      this.SUBRULE(this.entry);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RCurly,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.entry);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  entry = this.RULE("entry", () => {
    this.OR([{ ALT: () => this.CONSUME(T.StringLit, { LABEL: "key" }) }, { ALT: () => this.CONSUME(T.Identifier, { LABEL: "key" }) }]);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expression);
  });
}

/** The one parser instance. */
export const parser = new MergeParser();
export type { CstNode };
