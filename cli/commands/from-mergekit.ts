/**
 * `mergelab from-mergekit CONFIG.yml [OUT_DIR]`: print the merge-language
 * script equivalent to a mergekit config (the same script `mergelab run
 * CONFIG.yml OUT_DIR` runs).
 */
import fs from "node:fs";
import { MergelabError } from "../../core/errors.js";
import { mergekitToScript } from "../mergekit.js";
import { takeMergekitOptions } from "../mergekit/options.js";

const USAGE = `usage: mergelab from-mergekit CONFIG.yml [OUT_DIR]

Prints the merge script equivalent to a mergekit YAML config. OUT_DIR is where
the script saves the merge (default: merged). Run it with 'mergelab run', or run
the config directly: mergelab run CONFIG.yml OUT_DIR. mergekit-yaml's options that
change the script (--out-shard-size, --overwrite, --random-seed) are accepted; for a
multi-document config (mergekit-multi), -I/--intermediate-dir DIR saves its named merges
to DIR/NAME.`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const { options, rest } = takeMergekitOptions(argv);
  argv = rest.filter((a) => a !== "--quiet");
  const unknown = argv.find((a) => a.startsWith("-"));
  if (unknown) throw new MergelabError(`from-mergekit: unknown option '${unknown}'\n\n${USAGE}`);
  if (argv.length < 1 || argv.length > 2) {
    process.stderr.write(USAGE + "\n");
    return 2;
  }
  const [file, outArg] = argv;
  const outDir = outArg ?? options.outPath;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new MergelabError(`${file}: cannot read the config file`);
  }
  process.stdout.write(mergekitToScript(text, {
    file,
    outDir,
    inputsDir: process.cwd(),
    run: { shardSize: options.shardSize, overwrite: options.overwrite, seed: options.randomSeed, notes: options.notes, intermediateDir: options.intermediateDir },
  }));
  return 0;
}
