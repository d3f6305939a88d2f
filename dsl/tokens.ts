/**
 * Tokens of the merge language, in one ordered list (`allTokens`): keywords
 * before Identifier, longer operators before their prefixes. Whitespace and
 * `#` comments are skipped; newlines and `;` both separate statements (the
 * layout pass in layout.ts decides which newlines matter).
 */
import { createToken, GRAMMAR_CHECKS, Lexer, type IToken, type TokenType } from "./chevrotain.js";

// Greek letters (λ α β γ δ ε τ μ σ …) in identifiers: chevrotain drops the
// regex `u` flag, so the ranges are spelled out (Greek and Coptic, Greek Extended).
const letter = "A-Za-z_\\u0370-\\u03FF\\u1F00-\\u1FFF";

export const Identifier = createToken({ name: "Identifier", pattern: new RegExp(`[${letter}][${letter}0-9]*`), label: "a name" });

/** Every binary operator (the parser reads `operand (BinOp operand)*`; build-ast.ts applies precedence). */
export const BinOp = createToken({ name: "BinOp", pattern: Lexer.NA, label: "an operator" });

function keyword(name: string, word: string | RegExp, label = `'${String(word)}'`, categories: TokenType[] = []): TokenType {
  return createToken({ name, pattern: word, longer_alt: Identifier, label, categories });
}
export const Def = keyword("Def", "def");
export const For = keyword("For", "for");
export const In = keyword("In", "in");
export const If = keyword("If", "if");
export const Else = keyword("Else", "else");
export const And = keyword("And", "and", "'and'", [BinOp]);
export const Or = keyword("Or", "or", "'or'", [BinOp]);
export const Not = keyword("Not", "not");
export const True = keyword("True", /true|True/, "'true'");
export const False = keyword("False", /false|False/, "'false'");
export const None = keyword("None", /none|None/, "'none'");

export const NumberLit = createToken({
  name: "NumberLit",
  pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: "a number",
});
export const StringLit = createToken({
  name: "StringLit",
  pattern: /"(?:[^"\\\n]|\\[^\n])*"|'(?:[^'\\\n]|\\[^\n])*'/,
  label: "a string",
});
/** A string that reaches the end of its line: lexed so the error can say so. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n]|\\[^\n])*\\?|'(?:[^'\\\n]|\\[^\n])*\\?/,
  label: "an unterminated string",
});

export const Eq = createToken({ name: "Eq", pattern: /==/, label: "'=='", categories: [BinOp] });
export const NotEq = createToken({ name: "NotEq", pattern: /!=/, label: "'!='", categories: [BinOp] });
export const LessEq = createToken({ name: "LessEq", pattern: /<=/, label: "'<='", categories: [BinOp] });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: />=/, label: "'>='", categories: [BinOp] });
export const Less = createToken({ name: "Less", pattern: /</, label: "'<'", categories: [BinOp] });
export const Greater = createToken({ name: "Greater", pattern: />/, label: "'>'", categories: [BinOp] });
export const Assign = createToken({ name: "Assign", pattern: /=/, label: "'='" });
export const Plus = createToken({ name: "Plus", pattern: /\+/, label: "'+'", categories: [BinOp] });
export const Minus = createToken({ name: "Minus", pattern: /-/, label: "'-'", categories: [BinOp] });
export const Star = createToken({ name: "Star", pattern: /\*/, label: "'*'", categories: [BinOp] });
export const Slash = createToken({ name: "Slash", pattern: /\//, label: "'/'", categories: [BinOp] });

export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /]/, label: "']'" });
export const LCurly = createToken({ name: "LCurly", pattern: /{/, label: "'{'" });
export const RCurly = createToken({ name: "RCurly", pattern: /}/, label: "'}'" });
/** `{` / `}` around a for/def/if body; the layout pass retypes LCurly/RCurly to these. */
export const BlockOpen = createToken({ name: "BlockOpen", pattern: Lexer.NA, label: "'{'" });
export const BlockClose = createToken({ name: "BlockClose", pattern: Lexer.NA, label: "'}'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Dot = createToken({ name: "Dot", pattern: /\./, label: "'.'" });

/** Statement separator: a significant newline or `;` (the layout pass emits one per boundary). */
export const Sep = createToken({ name: "Sep", pattern: Lexer.NA, label: "end of line" });
export const Newline = createToken({ name: "Newline", pattern: /\r?\n/, categories: [Sep], label: "end of line" });
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/, categories: [Sep], label: "';'" });

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /#[^\n]*/, group: Lexer.SKIPPED });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Newline,
  Semicolon,
  NumberLit,
  StringLit,
  UnterminatedString,
  Def, For, In, If, Else, And, Or, Not, True, False, None,
  Identifier,
  Eq, NotEq, LessEq, GreaterEq, Less, Greater, Assign,
  Plus, Minus, Star, Slash,
  LParen, RParen, LBracket, RBracket, LCurly, RCurly,
  BlockOpen, BlockClose,
  Comma, Colon, Dot,
  Sep,
  BinOp,
];

/**
 * A lexed token: the same fields as the object literal chevrotain builds
 * (IToken with full position tracking), but made by a constructor.
 *
 * Why: V8 tracks survival per object-literal allocation site. All tokens of
 * a script stay alive until it is parsed, so V8 "pretenures" chevrotain's
 * token literal (allocates every later token straight in the old
 * generation), which keeps incremental marking busy through the whole
 * front end: on the 500-line bench, lexing went from ~0.7 ms to ~7 ms and
 * parse + check + plan slowed by about a third. Constructor-made objects
 * carry no allocation memento, so they are never pretenured.
 */
class LexedToken implements IToken {
  image: string;
  startOffset: number;
  endOffset: number;
  startLine: number;
  endLine: number;
  startColumn: number;
  endColumn: number;
  tokenTypeIdx: number;
  tokenType: TokenType;
  constructor(image: string, startOffset: number, tokenTypeIdx: number, tokenType: TokenType, startLine: number, startColumn: number, imageLength: number) {
    this.image = image;
    this.startOffset = startOffset;
    this.endOffset = startOffset + imageLength - 1;
    this.startLine = startLine;
    this.endLine = startLine;
    this.startColumn = startColumn;
    this.endColumn = startColumn + imageLength - 1;
    this.tokenTypeIdx = tokenTypeIdx;
    this.tokenType = tokenType;
  }
}

/**
 * chevrotain's Lexer picks its token factory in the constructor
 * (`this.createTokenInstance = this.createFullToken` for positionTracking
 * "full"), so overriding `createFullToken` swaps in LexedToken. If a future
 * chevrotain renames it, the override is simply unused: same tokens, slower.
 * Line/column fixing for multi-line tokens still happens in chevrotain
 * (updateTokenEndLineColumnLocation writes endLine/endColumn).
 */
class MergeLexer extends Lexer {
  createFullToken(image: string, startOffset: number, tokenTypeIdx: number, tokenType: TokenType, startLine: number, startColumn: number, imageLength: number): IToken {
    return new LexedToken(image, startOffset, tokenTypeIdx, tokenType, startLine, startColumn, imageLength);
  }
}

/** What the lexer matches: everything but the pattern-less tokens the layout pass creates (Sep, BlockOpen, BlockClose). */
const lexed = allTokens.filter((t) => t.PATTERN !== Lexer.NA);
export const lexer: Lexer = new MergeLexer(lexed, { positionTracking: "full", ensureOptimizations: GRAMMAR_CHECKS, skipValidations: !GRAMMAR_CHECKS });

export const keywords = ["def", "for", "in", "if", "else", "and", "or", "not", "true", "false", "none"];
