/**
 * `mergelab explain FILE [--set name=value]...`: the execution plan of every
 * model the script saves (and of a trailing model expression), planned
 * together: per tensor the op DAG, bytes read and written, peak memory.
 */
import { Session, ScriptError } from "../../dsl/index.js";
import { parseScriptArgs, readScriptSource, unusedOverrideError } from "./run.js";

const USAGE = `usage: mergelab explain FILE [--set NAME=VALUE]... [--workers N] [--chunk-size N]

Prints the execution plan of a merge script (checked first; reads no tensor data).`;

export async function run(argv: string[]): Promise<number> {
  const args = parseScriptArgs(argv, "explain", USAGE);
  if (args.flags.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const source = await readScriptSource(args.file, args.positional[1], "explain", USAGE);
  const { text } = source;
  const session = new Session({ cwd: process.cwd(), options: { workers: args.flags.workers, chunkSize: args.flags.chunkSize } });
  const checked = await session.check(text, { file: args.file, overrides: args.overrides });
  if (checked.diagnostics.length > 0) {
    process.stderr.write(new ScriptError(checked.diagnostics.map(source.relocate), source.shown).rendered + "\n"); // a YAML config: at its lines
    return 1;
  }
  const unused = unusedOverrideError(checked.unusedOverrides, text);
  if (unused) throw unused;
  const plan = await session.plan(text, { file: args.file, overrides: args.overrides });
  process.stdout.write(plan.explainText() + "\n");
  return 0;
}
