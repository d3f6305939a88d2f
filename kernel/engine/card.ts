/**
 * The model card: the README.md written into every output directory, in the
 * shape mergekit writes (YAML front matter for the Hugging Face Hub, then the
 * method, the models merged and the recipe that reproduces the merge).
 *
 *   ---
 *   base_model:
 *   - models/base
 *   - models/math
 *   library_name: transformers
 *   tags:
 *   - merge
 *   - mergelab
 *   ---
 *   # merged
 *   This is a merge of pre-trained language models created with mergelab …
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface CardMethod {
  name: string;
  paper?: { title: string; url: string };
  /** The call as written in the recipe, e.g. `ties(experts, base=base, k=0.2)`. */
  call?: string;
}

export interface CardInfo {
  /** Title (usually the output directory's name). */
  name: string;
  /** Paths of every checkpoint read, in first-use order. */
  inputs: string[];
  /** The checkpoint task vectors are taken against, when there is one. */
  base?: string;
  methods: CardMethod[];
  /** The merge script that produced the model. */
  recipe?: string;
  /** The mergekit config the script was translated from. */
  mergekitConfig?: { file: string; text: string };
  /** Output dtype of float tensors ("bf16"). */
  dtype?: string;
  version: string;
  /** ISO date-time of the run (callers pass it so tests can fix it). */
  date: string;
}

/** A YAML scalar that survives any path: plain when safe, else double-quoted. */
function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./][A-Za-z0-9_./ -]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/ $/.test(s) ? s : JSON.stringify(s);
}

/** A fence longer than any run of backticks in `text`, so the recipe cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return "`".repeat(longest + 1);
}

function codeBlock(text: string, lang: string): string {
  const f = fence(text);
  return `${f}${lang}\n${text.replace(/\n+$/, "")}\n${f}`;
}

function methodLink(m: CardMethod): string {
  return m.paper ? `[${m.name}](${m.paper.url})` : `\`${m.name}\``;
}

export function modelCard(info: CardInfo): string {
  const front = [
    "---",
    ...(info.inputs.length ? ["base_model:", ...info.inputs.map((p) => `- ${yamlScalar(p)}`)] : []),
    "library_name: transformers",
    "tags:",
    "- merge",
    "- mergelab",
    "---",
  ];
  const methods = info.methods.length ? info.methods.map(methodLink).join(", ") : "a custom merge script";
  const base = info.base ? ` using ${info.base} as a base` : "";
  const merged = info.inputs.filter((p) => p !== info.base);
  const body = [
    `# ${info.name}`,
    "",
    "This is a merge of pre-trained language models created with mergelab.",
    "",
    "## Merge Details",
    "",
    "### Merge Method",
    "",
    `This model was merged using the ${methods} merge method${info.methods.length > 1 ? "s" : ""}${base}.`,
    ...info.methods.filter((m) => m.paper).map((m) => `\n- ${m.name}: ${m.paper!.title}`),
    "",
    "### Models Merged",
    "",
    "The following models were included in the merge:",
    ...merged.map((p) => `* ${p}`),
    "",
  ];
  if (info.methods.some((m) => m.call)) {
    body.push("### Parameters", "", ...info.methods.filter((m) => m.call).map((m) => `- \`${m.call!.replace(/`/g, "'")}\``), "");
  }
  if (info.recipe) {
    body.push("### Configuration", "", "The following merge script was used to produce this model (run it with `mergelab run`):", "", codeBlock(info.recipe, "python"), "");
  }
  if (info.mergekitConfig) {
    body.push(`It was translated from this mergekit configuration (\`${info.mergekitConfig.file}\`):`, "", codeBlock(info.mergekitConfig.text, "yaml"), "");
  }
  body.push("### Provenance", "", `- tool: mergelab ${info.version}`, `- date: ${info.date}`, ...(info.dtype ? [`- dtype: ${info.dtype}`] : []), "");
  return [...front, ...body].join("\n");
}

/**
 * The methods a recipe calls, each with its first call's text (one line) —
 * `known` maps a method name to its paper (from the function specs).
 */
export function methodsInRecipe(recipe: string, known: ReadonlyMap<string, CardMethod["paper"]>): CardMethod[] {
  const found = new Map<string, CardMethod>();
  const code = recipe.split("\n").map((l) => l.replace(/#.*$/, ""));
  for (const line of code) {
    for (const m of line.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/g)) {
      const name = m[1];
      if (!known.has(name) || found.has(name)) continue;
      found.set(name, { name, paper: known.get(name), call: callText(line, m.index!) });
    }
  }
  return [...found.values()];
}

/** The balanced call starting at `start` on `line` (or the rest of the line). */
function callText(line: string, start: number): string {
  let depth = 0;
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return line.slice(start, i + 1);
    }
  }
  return line.slice(start).trim();
}

/** The "base=NAME" of the first method call, resolved to NAME's load("PATH") in the recipe. */
export function baseInRecipe(recipe: string, methods: readonly CardMethod[]): string | undefined {
  for (const m of methods) {
    const name = /\bbase\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*[,)]/.exec(m.call ?? "")?.[1];
    if (!name) continue;
    const load = new RegExp(`^\\s*${name}\\s*=\\s*load\\(\\s*"([^"]+)"`, "m").exec(recipe);
    if (load) return load[1];
  }
  return undefined;
}

let version: string | undefined;
/** mergelab's version, from the package.json above this file (source or dist/). */
export function toolVersion(): string {
  if (version) return version;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
      if (pkg.name === "mergelab") return (version = String(pkg.version));
    } catch {
      // not here: look one level up
    }
  }
  return (version = "unknown");
}

export interface SaveCardOptions {
  /** The output directory (its name is the card's title). */
  target: string;
  /** Input paths are shown relative to this when inside it. */
  cwd: string;
  /** Labels (paths) of the checkpoints the saved model reads. */
  inputs: readonly string[];
  dtype?: string;
  recipe?: { text: string; mergekitConfig?: { file: string; text: string } };
  /** Method name → paper, from the method specs. */
  papers: ReadonlyMap<string, CardMethod["paper"]>;
  date?: string;
}

/** The README.md of one save(). */
export function cardForSave(o: SaveCardOptions): string {
  const rel = (p: string) => {
    const r = path.relative(o.cwd, p);
    return path.isAbsolute(p) && r && !r.startsWith("..") && !path.isAbsolute(r) ? r : p;
  };
  const methods = o.recipe ? methodsInRecipe(o.recipe.text, o.papers) : [];
  const base = o.recipe ? baseInRecipe(o.recipe.text, methods) : undefined;
  const inputs = [...new Set(o.inputs.map(rel))];
  return modelCard({
    name: path.basename(o.target),
    inputs,
    base: base && inputs.includes(rel(path.resolve(o.cwd, base))) ? rel(path.resolve(o.cwd, base)) : base,
    methods,
    recipe: o.recipe?.text,
    mergekitConfig: o.recipe?.mergekitConfig,
    dtype: o.dtype,
    version: toolVersion(),
    date: o.date ?? new Date().toISOString(),
  });
}
