/**
 * `mergelab explain FILE [--set name=value]...`: the execution plan of every
 * model the script saves (and of a trailing model expression), planned
 * together: per tensor the op DAG, bytes read and written, peak memory.
 */
import { Session } from "../../dsl/index.js";
import { checkOrReport, parseScriptArgs, readScriptSource } from "./run.js";

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
  const session = new Session({ cwd: process.cwd(), options: { workers: args.flags.workers, chunkSize: args.flags.chunkSize, offline: args.flags.offline } });
  const checked = await checkOrReport(session, source, args.file, args.overrides);
  if (!checked) return 1;
  const plan = await session.plan(text, { file: args.file, overrides: args.overrides });
  process.stdout.write(plan.explainText() + "\n");
  return 0;
}
