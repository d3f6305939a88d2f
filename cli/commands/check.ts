/**
 * `mergelab check FILE [--set name=value]...`: every error of a merge script
 * (syntax, names, arguments, ranges, checkpoint compatibility) from the
 * checkpoints' headers only. Exit 1 with the diagnostics on stderr; exit 0
 * with a one-line summary otherwise.
 */
import { Session } from "../../dsl/index.js";
import { architectureGuard } from "../../engine/model.js";
import { checkOrReport, parseScriptArgs, readScriptSource } from "./run.js";

const USAGE = `usage: mergelab check FILE [--set NAME=VALUE]... [--offline] [--allow-crimes]

Checks a merge script (or a mergekit YAML config) against its checkpoints'
headers: names, argument types and ranges, tensor names and shapes. Reads no
tensor data, writes nothing. A Hugging Face Hub id that is not cached is checked
from its shards' headers (ranged reads), nothing downloaded; --offline: the
cache only.`;

export async function run(argv: string[]): Promise<number> {
  const args = parseScriptArgs(argv, "check", USAGE);
  if (args.flags.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  architectureGuard.allowCrimes = args.flags.allowCrimes;
  const source = await readScriptSource(args.file, args.positional[1], "check", USAGE);
  const session = new Session({ cwd: process.cwd(), options: { offline: args.flags.offline } });
  const checked = await checkOrReport(session, source, args.file, args.overrides);
  if (!checked) return 1;
  const n = checked.saved.length;
  process.stdout.write(`${args.file}: ok (${n} save${n === 1 ? "" : "s"})\n`);
  return 0;
}
