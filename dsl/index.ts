/** The merge language: text → AST → checked, lazy values (see docs/language.md). */
export { parse, type ParseResult } from "./parse.js";
export type { Program, Stmt, Expr, Arg, Param, DictEntry, CompClause, BinaryOp } from "./ast.js";
export { ScriptError, renderDiagnostic, renderDiagnostics, type Diagnostic, type Span } from "./diagnostics.js";
export {
  Session,
  check,
  plan,
  run,
  mx,
  createMx,
  toValue,
  planRoots,
  type Mx,
  type SessionOptions,
  type ExecuteOptions,
  type ExecuteResult,
  type ScriptOptions,
} from "./session.js";
export { Closure, FunctionRef, POISON, isPoison } from "./values.js";
export { formatValue } from "../core/present.js";
export { typeName } from "../stdlib/check.js";
export { Interpreter, Scope } from "./interpreter.js";
export { specDoc } from "./completion.js";
export { signature, describeParam } from "./bind.js";
