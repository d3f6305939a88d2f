import { MergelabError } from "../core/errors.js";

/** Flags of the simple verbs (inspect, finalize, demo): `--help`, `--json`, then positional arguments. */
export interface SimpleArgs {
  help: boolean;
  json: boolean;
  positional: string[];
}

/** Parses `[--json] ARGS...`; any other option is a MergelabError naming the verb, with its usage. */
export function parseSimpleArgs(argv: string[], verb: string, usage: string): SimpleArgs {
  const help = argv.includes("--help") || argv.includes("-h");
  const json = argv.includes("--json");
  const positional = argv.filter((a) => a !== "--json");
  const unknown = help ? undefined : positional.find((a) => a.startsWith("-"));
  if (unknown) throw new MergelabError(`${verb}: unknown option '${unknown}'\n\n${usage}`);
  return { help, json, positional };
}
