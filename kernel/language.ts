/**
 * The merge language as a Jupyter `Language`: one dsl Session per kernel
 * (bindings live across cells), its output routed to the running cell, its
 * errors turned into Jupyter error content (evalue with the cell's line:col,
 * traceback of plain diagnostic lines — never a JS stack).
 */
import { VERSION } from "../core/version.js";
import { InterruptedError, MergelabError } from "../core/errors.js";
import { backendName, expectedBackend, initRuntime, runtimeReady } from "../core/runtime.js";
import { Session, ScriptError, renderDiagnostic, signature, describeParam } from "../dsl/index.js";
import { lookup } from "../stdlib/registry.js";
import type { FunctionSpec, RunOptions } from "../stdlib/spec.js";
import type { MimeBundle } from "../core/values.js";
import type { CellOutput, CompleteReply, ErrorContent, ExecuteOutcome, Language } from "./server.js";
import { valueToMimeBundle } from "../core/present.js";

export const LANGUAGE_INFO = {
  name: "mergelab",
  version: VERSION,
  mimetype: "text/x-mergelab",
  file_extension: ".merge",
  // The language reads like Python (comments, calls with keywords, comprehensions).
  pygments_lexer: "python",
  codemirror_mode: "python",
  nbconvert_exporter: "script",
};

export class MergelabLanguage implements Language {
  private readonly session: Session;
  /** The cell now running; the session's stdout/stderr/display/clear_output go to it. */
  private out: CellOutput | undefined;

  constructor(opts: { cwd: string; options?: RunOptions }) {
    this.session = new Session({
      cwd: opts.cwd,
      options: opts.options,
      stdout: (text) => this.out?.stream("stdout", text),
      stderr: (text) => this.out?.stream("stderr", text),
      clearOutput: (wait) => this.out?.clearOutput(wait),
      display: (bundle, o) => this.out?.display(bundle, o),
    });
  }

  kernelInfo() {
    // the front end asks this first, right after launch: answer now, then load TensorFlow.js while the user reads
    if (!runtimeReady()) setTimeout(() => void initRuntime().catch(() => {}), 50).unref();
    const backend = runtimeReady() ? backendName() : `${expectedBackend()} (loading)`;
    return {
      implementation: "mergelab",
      implementation_version: VERSION,
      language_info: LANGUAGE_INFO,
      banner: `MergeLab ${VERSION} — the merge language (TensorFlow.js backend: ${backend})`,
      help_links: [{ text: "mergelab notebooks", url: "https://github.com/mergelab/mergelab/blob/main/docs/notebooks.md" }],
    };
  }

  async execute(code: string, executionCount: number, out: CellOutput, signal: AbortSignal): Promise<ExecuteOutcome> {
    this.out = out;
    try {
      await initRuntime(); // at once after the first kernel_info; a cell never runs before the backend is chosen
      const { value } = await this.session.execute(code, { file: `In[${executionCount}]`, signal });
      if (value === undefined) return { status: "ok" };
      return { status: "ok", result: valueToMimeBundle(value) };
    } catch (e) {
      return { status: "error", ...errorContent(e, code, signal) };
    } finally {
      this.out = undefined;
    }
  }

  complete(code: string, cursorPos: number): CompleteReply {
    const r = this.session.complete(code, cursorPos);
    return { matches: r.matches, cursor_start: r.cursorStart, cursor_end: r.cursorEnd, metadata: {} };
  }

  inspect(code: string, cursorPos: number): { found: boolean; data: MimeBundle } {
    const text = this.session.inspect(code, cursorPos);
    if (text === undefined) return { found: false, data: {} };
    const spec = lookup(wordAt(code, cursorPos));
    return { found: true, data: { "text/plain": text, "text/markdown": spec ? specMarkdown(spec) : "```\n" + text + "\n```" } };
  }

  isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
    const status = this.session.isComplete(code);
    return status === "incomplete" ? { status, indent: "" } : { status };
  }
}

/**
 * Jupyter error content for a failed cell. Script errors carry
 * `In[n]:LINE:COL: error: message` plus the source line and a caret; an
 * interrupt says the run stopped and wrote nothing (outputs are renamed into
 * place only at the end); anything else is a bug, reported without a stack.
 */
export function errorContent(e: unknown, code: string, signal?: AbortSignal): ErrorContent {
  if (e instanceof InterruptedError || (signal?.aborted && !(e instanceof ScriptError))) {
    return { ename: "Interrupted", evalue: "interrupted: the run stopped; nothing was written", traceback: ["interrupted: the run stopped; nothing was written"] };
  }
  if (e instanceof ScriptError) {
    const loc = e.loc;
    return { ename: "MergelabError", evalue: loc ? `${loc.line}:${loc.col}: ${e.message}` : e.message, traceback: e.rendered.split("\n") };
  }
  if (e instanceof MergelabError) {
    const loc = e.loc;
    if (loc) {
      const lines = renderDiagnostic({ loc, message: e.message }, code).split("\n");
      return { ename: "MergelabError", evalue: `${loc.line}:${loc.col}: ${e.message}`, traceback: lines };
    }
    return { ename: "MergelabError", evalue: e.message, traceback: [`error: ${e.message}`] };
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`[mergelab kernel] internal error: ${e instanceof Error ? e.stack : message}\n`);
  return { ename: "InternalError", evalue: message, traceback: [`internal error: ${message}`, "(a bug in mergelab: the kernel's log has the details)"] };
}

function wordAt(code: string, pos: number): string {
  const name = /[A-Za-z0-9_\u0370-\u03FF\u1F00-\u1FFF]/;
  let start = Math.min(pos, code.length);
  while (start > 0 && name.test(code[start - 1]!)) start--;
  let end = Math.min(pos, code.length);
  while (end < code.length && name.test(code[end]!)) end++;
  return code.slice(start, end);
}

/** A function's doc as Markdown, from its spec (what the notebook's tooltip and help pane show). */
export function specMarkdown(spec: FunctionSpec): string {
  const lines = ["```python", signature(spec), "```", "", spec.doc, ""];
  if (spec.aliases?.length) lines.push(`Also called: ${spec.aliases.map((a) => `\`${a}\``).join(", ")}`, "");
  if (spec.params.length) lines.push("**Parameters**", "", ...spec.params.map((p) => `- \`${describeParam(p)}\``), "");
  lines.push("**Example**", "", "```python", spec.example, "```");
  if (spec.paper) lines.push("", `Paper: [${spec.paper.title}](${spec.paper.url})`);
  return lines.join("\n");
}
