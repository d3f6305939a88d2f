/**
 * `mergelab VERB ...`: a thin shell over the public API. Each verb lives in
 * cli/commands/VERB.ts and exports `run(argv): Promise<number>` (the exit code).
 * User errors (MergelabError) print their message and exit 1, never a stack trace.
 */
import { MergelabError } from "../core/errors.js";
import { formatError } from "./format.js";

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  run: { summary: "run a merge script (or a mergekit YAML config)", load: () => import("./commands/run.js") },
  check: { summary: "check a merge script against its checkpoints' headers", load: () => import("./commands/check.js") },
  explain: { summary: "print the execution plan of a merge script", load: () => import("./commands/explain.js") },
  inspect: { summary: "list a checkpoint's tensors, dtypes and shapes", load: () => import("./commands/inspect.js") },
  "from-mergekit": { summary: "print the merge script equivalent to a mergekit YAML config", load: () => import("./commands/from-mergekit.js") },
  finalize: { summary: "assemble the index and model card of a sharded run", load: () => import("./commands/finalize.js") },
  demo: { summary: "run the built-in demo experiment end to end", load: () => import("./commands/demo.js") },
  kernel: { summary: "install or start the mergelab Jupyter kernel", load: () => import("./commands/kernel.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: mergelab <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'mergelab <command> --help' for a command's options; --verbose reports the tensor runtime.`;
}

/** `--verbose` anywhere: report the tensor runtime (tfjs backend) on stderr before the verb runs. */
async function reportRuntime(): Promise<void> {
  const { initRuntime, tf } = await import("../core/runtime.js");
  const backend = await initRuntime();
  process.stderr.write(`mergelab: tensor runtime: TensorFlow.js ${tf.version.tfjs}, backend ${backend}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose");
  const [verb, ...rest] = argv.filter((a) => a !== "--verbose");
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(usage() + "\n");
    return verb ? 0 : 2;
  }
  if (verb === "--version" || verb === "-V") {
    const { VERSION } = await import("../core/version.js");
    process.stdout.write(`mergelab ${VERSION}\n`);
    return 0;
  }
  const command = commands[verb];
  if (!command) {
    process.stderr.write(`mergelab: error: unknown command '${verb}'\n\n${usage()}\n`);
    return 2;
  }
  try {
    if (verbose) await reportRuntime();
    return await (await command.load()).run(rest);
  } catch (e) {
    if (e instanceof MergelabError) {
      process.stderr.write(formatError(e) + "\n");
      return 1;
    }
    throw e;
  }
}
