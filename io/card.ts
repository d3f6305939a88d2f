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
 *
 * Built from structured data only (engine/save.ts fills it from the saved model's merge steps and the
 * resolved parameters); the recipe text is shown verbatim, never parsed.
 */

export interface CardMethod {
  name: string;
  paper?: { title: string; url: string };
  /** The call with its inputs and resolved parameters, e.g. `ties([a, b], base=base, k=0.2, λ=1)`. */
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
  return /^[A-Za-z0-9_./][A-Za-z0-9_./@+ -]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/ $/.test(s) ? s : JSON.stringify(s);
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
