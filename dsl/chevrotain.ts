/**
 * chevrotain, from its single-file ESM bundle. The package's entry point is an ES module graph of
 * ~700 files (it imports lodash-es function by function), which costs most of a second to load on every
 * `mergelab check` and kernel start; the bundle is the same code in one file, and its minified copy
 * (chevrotain.min.mjs, 140 KB instead of 350 KB) is that code with short local names: less to read and
 * compile at every start, the same grammar and messages (tests/dsl/grammar.test.ts runs chevrotain's own
 * grammar checks on it). The package's `exports`
 * map does not list the bundle, so it is found next to the entry point, and loaded with require() (Node ≥
 * 20.19 loads an ES module synchronously that way), so that `require("mergelab")` (tslab) keeps working —
 * a top-level await here would break it. Every file of dsl/ takes chevrotain from here, so tokens and
 * parser share one copy.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type * as Chevrotain from "chevrotain";

const require = createRequire(import.meta.url);
const entry = require.resolve("chevrotain"); // …/chevrotain/lib/src/api.js
const chevrotain = require(path.join(path.dirname(entry), "..", "chevrotain.min.mjs")) as typeof Chevrotain;

export const { CstParser, EOF, LLkLookaheadStrategy, Lexer, createToken, createTokenInstance, tokenMatcher } = chevrotain;
export type { CstElement, CstNode, ILexingError, ILexingResult, ILookaheadStrategy, IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
/** The lexer class as a type (the value above is the bundle's class). */
export type Lexer = Chevrotain.Lexer;

/**
 * chevrotain validates a grammar (ambiguities, left recursion, lexer optimisations) every time a lexer or
 * parser is built: most of the language's start-up. The grammar is fixed, so the checks run in the test
 * suite (tests/dsl/grammar.test.ts sets MERGELAB_GRAMMAR_CHECKS=1), not at every start.
 */
export const GRAMMAR_CHECKS = process.env.MERGELAB_GRAMMAR_CHECKS === "1";
