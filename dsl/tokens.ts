/**
 * Tokens of the merge language, in one ordered list (`allTokens`): keywords
 * before Identifier, longer operators before their prefixes. Whitespace and
 * `#` comments are skipped; newlines and `;` both separate statements (the
 * layout pass in layout.ts decides which newlines matter).
 */
import { createToken, GRAMMAR_CHECKS, Lexer, type ILexingError, type ILexingResult, type IToken, type TokenType } from "./chevrotain.js";

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

/** What the lexer matches: everything but the pattern-less tokens the layout pass creates (Sep, BlockOpen, BlockClose). */
export const lexedTokens = allTokens.filter((t) => t.PATTERN !== Lexer.NA);

/** The lexer's interface (what chevrotain's Lexer.tokenize returns). */
export interface MergeLexer {
  tokenize(text: string): ILexingResult;
}

const escapeString = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");

/** A token pattern as regex source, as chevrotain compiles it (a string matches literally; regex flags are not kept). */
function patternSource(t: TokenType): string {
  const p = t.PATTERN;
  if (typeof p === "string") return escapeString(p);
  if (!(p instanceof RegExp) || p.flags !== "") throw new Error(`token ${t.name}: only flagless regex and string patterns are supported`);
  if (new RegExp(`(?:${p.source})|`).exec("")!.length !== 1) throw new Error(`token ${t.name}: the pattern must not capture (use (?:...))`);
  return p.source;
}

const LINE_TERMINATOR = /\n|\r\n?/g;

/**
 * The tokens after which chevrotain counts lines: those its analysis finds can match \r or \n. Its
 * analysis does not look into negated classes, so a \r inside a string or a comment does not start a
 * line (as in chevrotain's Lexer, which the language used before).
 */
const LINE_BREAKING = new Set<TokenType>([WhiteSpace, Newline]);

/**
 * The characters a token can start with (chevrotain's start_chars_hint), for the patterns whose first
 * character is not plain in their source. At each offset only the tokens that can start with the
 * character there are tried, in order — what chevrotain's "first char optimization" does from its own
 * analysis of the patterns. tests/dsl/lexer.test.ts would see a token missed here.
 */
const STARTS = new Map<TokenType, RegExp>([
  [WhiteSpace, /[ \t\r\f\v\u00a0\ufeff]/],
  [Newline, /[\r\n]/],
  [NumberLit, /[0-9.]/],
  [StringLit, /["']/],
  [UnterminatedString, /["']/],
  [Identifier, new RegExp(`[${letter}]`)],
  [True, /[tT]/],
  [False, /[fF]/],
  [None, /[nN]/],
]);

/** The first-character test of a token: from STARTS, else the first character of its pattern (plain or escaped). */
function startOf(t: TokenType): RegExp {
  const hint = STARTS.get(t);
  if (hint) return hint;
  const p = t.PATTERN;
  const source = typeof p === "string" ? escapeString(p) : (p as RegExp).source;
  const first = source[0] === "\\" ? source.slice(0, 2) : source[0]!;
  if (/^(\\[A-Za-z0-9]|[[(.^$*+?])$/.test(first) || source.includes("|")) throw new Error(`token ${t.name}: declare its first characters in STARTS`);
  return new RegExp(first);
}

/**
 * chevrotain's lexing, without chevrotain's Lexer: its constructor analyses every pattern (first
 * characters, line breaks: regex parsing) and fills a 65,536-entry table, most of the language's
 * start-up after the parser. The rules are those of chevrotain 11's Lexer.tokenize for these tokens:
 * at each offset the first pattern of `lexedTokens` that matches wins (of those that can start with the
 * character there, STARTS); a keyword gives way to a longer match of its longer_alt (Identifier);
 * WhiteSpace and Comment are dropped; lines and columns advance over \n, \r\n and \r in WhiteSpace and
 * Newline (LINE_BREAKING; a multi-line token's end position as chevrotain sets it); characters no
 * pattern matches are skipped up to the next offset where one does, as one error.
 * tests/dsl/lexer.test.ts compares the two lexers token by token and error by error.
 */
class FastLexer implements MergeLexer {
  private readonly patterns: RegExp[];
  private readonly starts: RegExp[];
  private readonly longerAlt: Array<number | undefined>;
  private readonly skipped: boolean[];
  private readonly lineBreaking: boolean[];
  /** Per character code: the indices of the tokens that can start with it, in order. */
  private readonly candidates = new Map<number, number[]>();
  private readonly any: RegExp;

  constructor(private readonly types: readonly TokenType[]) {
    this.patterns = types.map((t) => new RegExp(patternSource(t), "y"));
    this.starts = types.map(startOf);
    this.any = new RegExp(types.map((t) => `(?:${patternSource(t)})`).join("|"), "y");
    this.longerAlt = types.map((t) => {
      const alt = t.LONGER_ALT;
      if (alt === undefined) return undefined;
      if (Array.isArray(alt)) throw new Error(`token ${t.name}: one longer_alt only`);
      return types.indexOf(alt as TokenType);
    });
    this.lineBreaking = types.map((t) => LINE_BREAKING.has(t));
    this.skipped = types.map((t) => {
      if (t.GROUP !== undefined && t.GROUP !== Lexer.SKIPPED) throw new Error(`token ${t.name}: groups other than SKIPPED are not supported`);
      return t.GROUP === Lexer.SKIPPED;
    });
  }

  private candidatesFor(code: number): number[] {
    let c = this.candidates.get(code);
    if (c === undefined) {
      const ch = String.fromCharCode(code);
      c = this.starts.flatMap((re, i) => (re.test(ch) ? [i] : []));
      this.candidates.set(code, c);
    }
    return c;
  }

  /** Length of token i's match at offset, or -1. */
  private matchAt(i: number, text: string, offset: number): number {
    const re = this.patterns[i]!;
    re.lastIndex = offset;
    return re.test(text) ? re.lastIndex - offset : -1;
  }

  tokenize(text: string): ILexingResult {
    const tokens: IToken[] = [];
    const errors: ILexingError[] = [];
    let offset = 0;
    let line = 1;
    let column = 1;
    while (offset < text.length) {
      const candidates = this.candidatesFor(text.charCodeAt(offset));
      let k = -1;
      let length = -1;
      for (const i of candidates) {
        length = this.matchAt(i, text, offset);
        if (length !== -1) {
          k = i;
          break;
        }
      }
      if (k === -1) {
        // chevrotain's recovery: skip to the next offset where some token matches, as one error
        const start = offset;
        const any = this.any;
        do {
          offset++;
          any.lastIndex = offset;
        } while (offset < text.length && !any.test(text));
        const skipped = offset - start;
        errors.push({ offset: start, line, column, length: skipped, message: `unexpected character: ->${text.charAt(start)}<- at offset: ${start}, skipped ${skipped} characters.` });
        column += skipped;
        continue;
      }
      const alt = this.longerAlt[k];
      if (alt !== undefined) {
        const longer = this.matchAt(alt, text, offset);
        if (longer > length) {
          k = alt;
          length = longer;
        }
      }
      const type = this.types[k]!;
      const skip = this.skipped[k];
      const image = skip && !this.lineBreaking[k] ? "" : text.slice(offset, offset + length);
      const token = skip ? undefined : new LexedToken(image, offset, type.tokenTypeIdx!, type, line, column, length);
      if (token) tokens.push(token);
      if (this.lineBreaking[k] && (image.includes("\n") || image.includes("\r"))) {
        let n = 0;
        let last = -1;
        LINE_TERMINATOR.lastIndex = 0;
        while (LINE_TERMINATOR.test(image)) {
          last = LINE_TERMINATOR.lastIndex - 1;
          n++;
        }
        line += n;
        column = length - last;
        if (token) {
          const endsInTerminator = last === length - 1;
          if (!(n === 1 && endsInTerminator)) {
            token.endLine = endsInTerminator ? line - 1 : line;
            token.endColumn = endsInTerminator ? column : column - 1;
          }
        }
      } else column += length;
      offset += length;
    }
    return { tokens, groups: {}, errors };
  }
}

export const lexer: MergeLexer = new FastLexer(lexedTokens);
// the grammar checks (tests/dsl/grammar.test.ts) also validate the token definitions with chevrotain's Lexer
if (GRAMMAR_CHECKS) new Lexer(lexedTokens, { positionTracking: "full", ensureOptimizations: true });

export const keywords = ["def", "for", "in", "if", "else", "and", "or", "not", "true", "false", "none"];
