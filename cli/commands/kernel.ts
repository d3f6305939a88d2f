/**
 * `mergelab kernel install [--user | --prefix DIR]` writes the Jupyter kernel
 * specs (mergelab and tslab's TypeScript kernel); `mergelab kernel start
 * --connection-file F` runs the mergelab kernel (Jupyter calls this).
 */
import { MergelabError } from "../../core/errors.js";

const USAGE = `usage: mergelab kernel install [--user | --prefix DIR]
       mergelab kernel start --connection-file FILE

install   write the Jupyter kernel specs "mergelab" (MergeLab) and "tslab" (TypeScript)
          --user         into the per-user Jupyter data dir (default unless root)
          --prefix DIR   into DIR/share/jupyter/kernels (use with JUPYTER_PATH=DIR/share/jupyter)
start     run the mergelab kernel on the ports of a Jupyter connection file`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    process.stdout.write(USAGE + "\n");
    return sub ? 0 : 2;
  }
  if (sub === "install") return install(rest);
  if (sub === "start") return start(rest);
  throw new MergelabError(`kernel: unknown subcommand '${sub}' (expected install or start)`);
}

function optionValue(args: string[], i: number, name: string): string {
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new MergelabError(`kernel: ${name} needs a value`);
  return v;
}

async function install(args: string[]): Promise<number> {
  let user = false;
  let prefix: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--user") user = true;
    else if (a === "--prefix") prefix = optionValue(args, i++, "--prefix");
    else if (a.startsWith("--prefix=")) prefix = a.slice("--prefix=".length);
    else throw new MergelabError(`kernel install: unknown option '${a}'`);
  }
  if (user && prefix) throw new MergelabError("kernel install: --user and --prefix exclude each other");
  const { installKernelSpecs } = await import("../../kernel/install.js");
  const { installed, linked } = installKernelSpecs({ user, prefix });
  for (const k of installed) process.stdout.write(`installed kernel spec '${k.name}' in ${k.dir}\n`);
  if (linked) process.stdout.write(`linked ${linked} -> package root (so tslab notebooks can import "mergelab")\n`);
  return 0;
}

async function start(args: string[]): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--connection-file" || a === "-f") file = optionValue(args, i++, a);
    else if (a.startsWith("--connection-file=")) file = a.slice("--connection-file=".length);
    else throw new MergelabError(`kernel start: unknown option '${a}'`);
  }
  if (!file) throw new MergelabError("kernel start: --connection-file FILE is required");
  const { startKernel } = await import("../../kernel/index.js");
  await startKernel(file);
  return 0;
}
