/**
 * mergekit YAML config → merge-language script. `mergelab from-mergekit`
 * prints the script; `mergelab run config.yml OUT_DIR` runs it (the language's
 * run verb imports `mergekitToScript`). The script spells out every value
 * mergekit would use, defaults included, so it does not depend on mergelab's
 * own defaults, and says in `#` comments where mergelab computes differently.
 *
 *   models: [{model: a, parameters: {weight: 0.5}}, …]   →  a = load("a") …
 *   merge_method: ties, parameters: {density: 0.5}       →  merged = ties([a, b], base=base, k=0.5, …)
 *   t: [0, 0.5, 1]                                       →  t=layers([0, 0.5, 1])
 *   - filter: self_attn / value: 0.3, - value: 0.5        →  match({"self_attn": 0.3}, default=0.5)
 *   slices: [{sources: [{model: a, layer_range: [0, 16]}]}, …]  →  stack([slice(a, 0, 16), …])
 */
import fs from "node:fs";
import path from "node:path";
import type { SourceLocation } from "../core/errors.js";
import { YamlDoc, type YamlPath } from "./mergekit/yaml.js";
import { didYouMean } from "../core/suggest.js";
import { isHubReference } from "../io/hub.js";
import { readConfig, readSetting, type MergekitConfig, type Setting, type Slice, type Source, type Gradient } from "./mergekit/config.js";
import {
  DIFFERENCES, GTA, HAS_RESCALE, METHODS, NAMES, OTHER_MERGEKIT_PARAMS, REQUIRED,
  globalParams, tensorParams, type Default,
} from "./mergekit/methods.js";
import { openCheckpoint } from "../io/checkpoint.js";
import { readModelVocab, type ModelVocab } from "../io/vocab.js";
import { configField, readHfConfig } from "../io/hfconfig.js";

export interface MergekitOptions {
  /** Where the script saves the result (default "merged"). */
  outDir?: string;
  /** The config's file name, for error locations and the header comment (default "config.yml"). */
  file?: string;
  /**
   * When running (not just printing): check that every model path exists
   * relative to this directory, so a missing one is reported at its YAML line.
   */
  checkPathsIn?: string;
  /**
   * Where the models are (default: checkPathsIn): their headers give the input dtypes, so a config
   * without `dtype` over mixed-dtype models is written in the dtype mergekit writes.
   */
  inputsDir?: string;
  /** mergekit-yaml's options (cli/mergekit/options.ts) that change the script. */
  run?: { shardSize?: number; overwrite?: boolean; seed?: number; notes?: string[]; intermediateDir?: string };
}

export function mergekitToScript(yamlText: string, opts: MergekitOptions = {}): string {
  return translateMergekit(yamlText, opts).script;
}

/** Where a generated script line came from: its YAML node, and the models it uses (each with its entry). */
export interface LineOrigin {
  at: YamlPath;
  models: ModelRef[];
  /** Arguments of the line that come from a YAML setting: [from, to) columns (0-based) and its node. */
  spans?: Array<{ from: number; to: number; at: YamlPath }>;
}
interface ModelRef {
  /** The path as written in the YAML (= the load()ed model's label in messages). */
  path: string;
  /** Its variable in the script. */
  name: string;
  at: YamlPath;
}

export interface MergekitTranslation {
  script: string;
  /** Per script line (0-based): the YAML node it was generated from. */
  origins: Array<LineOrigin | undefined>;
  /**
   * A diagnostic at a script line, moved to the YAML line that caused it: the
   * entry of the model the message blames (a checkpoint whose shape, tensors or
   * dtype disagree), else the node the line came from (merge_method for the merge).
   */
  locate(loc: SourceLocation, message: string): SourceLocation;
}

export function translateMergekit(yamlText: string, opts: MergekitOptions = {}): MergekitTranslation {
  const file = opts.file ?? "config.yml";
  const parts = splitDocuments(yamlText);
  if (parts.length > 1) return translateMulti(parts.map((text) => new YamlDoc(text, file)), opts);
  // one document (markers and comment-only documents around it blanked, so lines stay the file's)
  const doc = new YamlDoc(parts[0] ?? yamlText, file);
  const config = readConfig(doc);
  if (opts.checkPathsIn !== undefined) {
    checkPaths(doc, config, opts.checkPathsIn);
    checkTokenSources(doc, opts.checkPathsIn);
  }
  const lines = new Translator(doc, config, opts).lines(opts.outDir ?? "merged");
  return assemble(lines.map((l) => ({ ...l, doc })), doc);
}

/** A script line with the YAML document it came from. */
type DocLine = Line & { doc: YamlDoc };

function assemble(lines: DocLine[], fallback: YamlDoc): MergekitTranslation {
  const origins = lines.map((l) => l.origin);
  const scriptLines = lines.map((l) => l.text);
  return {
    script: scriptLines.join("\n") + "\n",
    origins,
    locate(loc, message) {
      const origin = origins[loc.line - 1];
      const doc = lines[loc.line - 1]?.doc ?? fallback;
      if (!origin) return { file: doc.file, ...doc.locate(["merge_method"]) };
      // an error about one argument (della's ε, a density out of range…) points at the setting it came from
      const span = origin.spans?.find((s) => loc.col - 1 >= s.from && loc.col - 1 < s.to);
      if (span) return { file: doc.file, ...doc.locate(span.at) };
      const blamed = blamedModel(origin.models, scriptLines[loc.line - 1] ?? "", message);
      return { file: doc.file, ...doc.locate(blamed ? [...blamed.at, ...(blamed.at[0] === "base_model" ? [] : ["model"])] : origin.at) };
    },
  };
}

/**
 * The documents of a multi-document YAML file (`---` lines), each as the whole text with every other
 * document's lines blanked, so positions in it are positions in the file. Documents with nothing but
 * comments are left out; a text without `---`/`...` lines gives [].
 */
export function splitDocuments(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const starts: number[] = [0];
  lines.forEach((l, i) => {
    if (/^(---|\.\.\.)\s*(#.*)?$/.test(l)) starts.push(i);
  });
  if (starts.length === 1) return [];
  const docs: string[] = [];
  starts.forEach((from, k) => {
    const to = starts[k + 1] ?? lines.length;
    const body = lines.map((l, i) => (i >= from && i < to && !(i === from && /^(---|\.\.\.)/.test(l)) ? l : ""));
    if (body.some((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))) docs.push(body.join("\n"));
  });
  return docs;
}

/**
 * mergekit-multi: several configs in one file, each but (at most) one with a `name:`; a config may use an
 * earlier one's name as a model. One script: the documents in dependency order, each named result kept
 * in a variable that later merges use (in memory, float32), saved under --intermediate-dir/NAME when one
 * is given (or under OUT/NAME when there is no unnamed final merge, OUT then being mergekit's
 * intermediate directory); the unnamed merge is saved to OUT.
 */
function translateMulti(docs: YamlDoc[], opts: MergekitOptions): MergekitTranslation {
  const configs = docs.map((d) => readConfig(d));
  const names = docs.map((d, i): string | undefined => {
    const n = (d.value as Record<string, unknown>).name;
    if (n === undefined || n === null) return undefined;
    if (typeof n !== "string" || n.trim() === "") throw d.error(["name"], "name: expected the merge's name (a string other models can refer to)");
    if (docs.slice(0, i).some((o) => (o.value as Record<string, unknown>).name === n)) throw d.error(["name"], `duplicate merge name '${n}'`);
    return n;
  });
  const unnamed = names.flatMap((n, i) => (n === undefined ? [i] : []));
  if (unnamed.length > 1) throw docs[unnamed[1]].error([], "a second merge without 'name:': mergekit-multi runs at most one unnamed (final) merge; name the others");
  const nameSet = new Set(names.filter((n): n is string => n !== undefined));
  const uses = configs.map((c) => [...new Set([...(c.base ? [c.base] : []), ...c.slices.flatMap((s) => [...(s.base ? [s.base] : []), ...s.sources.map((x) => x.model)])])].filter((p) => nameSet.has(p)));
  // dependency order (depth first, in file order); a cycle is an error at the name of the merge that closes it
  const order: number[] = [];
  const state = new Map<number, "visiting" | "done">();
  const visit = (i: number, chain: string[]) => {
    if (state.get(i) === "done") return;
    const here = names[i] ?? "(final merge)";
    if (state.get(i) === "visiting") throw docs[i].error(names[i] !== undefined ? ["name"] : [], `circular dependency: ${[...chain, here].join(" → ")}`);
    state.set(i, "visiting");
    for (const dep of uses[i]) visit(names.indexOf(dep), [...chain, here]);
    state.set(i, "done");
    order.push(i);
  };
  docs.forEach((_, i) => visit(i, []));
  // one variable per named merge, kept distinct from every name the documents' scripts use
  const vars = new Map<string, string>();
  const taken = new Set<string>();
  for (const n of names) {
    if (n === undefined) continue;
    let candidate = n.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "merge";
    if (/^\d/.test(candidate)) candidate = `m_${candidate}`;
    if (RESERVED.has(candidate) || /^(tv|part)\d*$/.test(candidate)) candidate = `${candidate}_merge`;
    let v = candidate;
    for (let i = 2; taken.has(v); i++) v = `${candidate}_${i}`;
    taken.add(v);
    vars.set(n, v);
  }
  const out = opts.outDir ?? "merged";
  const interDir = opts.run?.intermediateDir ?? (unnamed.length === 0 ? out : undefined);
  const lines: DocLine[] = [];
  const dtypes = new Map<string, string | undefined>();
  const file = docs[0].file;
  lines.push({ text: `# Translated from ${file} by \`mergelab from-mergekit\` (mergekit-multi: ${docs.length} merges, in dependency order).`, doc: docs[0] });
  if (interDir === undefined) lines.push({ text: "# Named merges are passed on in memory (float32); --intermediate-dir DIR also saves each to DIR/NAME.", doc: docs[0] });
  for (const [k, i] of order.entries()) {
    const doc = docs[i];
    const cfg = configs[i];
    if (opts.checkPathsIn !== undefined) {
      checkPaths(doc, cfg, opts.checkPathsIn, nameSet);
      checkTokenSources(doc, opts.checkPathsIn);
    }
    const name = names[i];
    const target = name === undefined ? out : interDir === undefined ? undefined : path.join(interDir, name);
    // a named merge's directory is rewritten on every run (mergekit-multi would reuse it: --lazy)
    const run = { ...opts.run, notes: k === 0 ? opts.run?.notes : [], overwrite: name !== undefined || opts.run?.overwrite };
    const t = new Translator(doc, cfg, { ...opts, run }, { named: vars, reserved: taken, dtypes });
    const own = t.lines(target);
    if (name !== undefined) dtypes.set(name, t.outputDtype());
    lines.push({ text: "", doc }, ...own.map((l) => ({ ...l, doc })));
    if (name !== undefined) {
      const written = dtypes.get(name);
      const v = vars.get(name)!;
      const origin: LineOrigin = { at: ["name"], models: [] };
      if (written === "bf16" && uses.some((u) => u.includes(name))) {
        // Veltkamp's split with 2^16 + 1 rounds a float32 to its 8 leading bits, to nearest even: exactly
        // torch's float32 → bfloat16 (|x| < 5e33)
        lines.push(
          { text: `# mergekit writes ${name} in bfloat16 and reads that back: the same rounding, c − (c − x) with c = 65537·x`, doc },
          { text: `${v} = 65537 * merged`, origin, doc },
          { text: `${v} = ${v} - (${v} - merged)`, origin, doc },
        );
      } else {
        if (written !== undefined && written !== "f32" && uses.some((u) => u.includes(name))) {
          lines.push({ text: `# ${name} is used below as computed (float32); mergekit re-reads it from its ${written} files`, doc });
        }
        lines.push({ text: `${v} = merged`, origin, doc });
      }
    }
  }
  return assemble(lines, docs[order[order.length - 1]]);
}

/**
 * The model a compatibility message blames. Models are checked against the
 * first model of a call ("shape … in FIRST but … in OTHER", "is in OTHER but
 * missing from FIRST"), so of the models the message names, the blamed one is
 * the one whose variable comes later on the line.
 */
function blamedModel(models: readonly ModelRef[], line: string, message: string): ModelRef | undefined {
  const named = models.filter((m) => new RegExp(`(^|[\\s(\\[,])${escapeRe(m.path)}($|[\\s),\\]])`).test(message));
  const position = (m: ModelRef) => line.search(new RegExp(`\\b${escapeRe(m.name)}\\b`));
  return named.sort((a, b) => position(b) - position(a))[0];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function checkPaths(doc: YamlDoc, cfg: MergekitConfig, dir: string, named: ReadonlySet<string> = new Set()): void {
  const refs: Array<[string, YamlPath]> = cfg.slices.flatMap((s) => [
    ...s.sources.map((x): [string, YamlPath] => [x.model, [...x.at, "model"]]),
    ...(s.base !== undefined ? [[s.base, [...s.at, "base_model"]] as [string, YamlPath]] : []),
  ]);
  if (cfg.base !== undefined) refs.push([cfg.base, ["base_model"]]);
  for (const [p, at] of refs) {
    if (named.has(p)) continue; // another merge of the file (mergekit-multi)
    // each part of mergekit's model+lora; a Hugging Face Hub id (org/name[@rev]) is resolved when the script runs
    for (const part of p.split("+")) {
      if (!fs.existsSync(path.resolve(dir, part)) && !isHubReference(part, dir)) {
        throw doc.error(at, `${part}: no such checkpoint (a directory or .safetensors file, relative to ${dir}, or a Hub id org/name[@revision])`);
      }
    }
  }
}

/**
 * tokenizer: tokens: sources against the models' tokenizer files (tokenizer.json, config.json's vocab_size),
 * before any tensor data: a token a source model lacks, a token_id past its rows, at the YAML line. Models
 * that are not local directories with a tokenizer.json are checked when the script runs (align_vocab).
 */
function checkTokenSources(doc: YamlDoc, dir: string): void {
  const tokens = ((doc.value as Record<string, unknown> | undefined)?.tokenizer as Record<string, unknown> | undefined)?.tokens as Record<string, Record<string, unknown>> | undefined;
  if (!tokens || typeof tokens !== "object") return;
  const vocabs = new Map<string, ModelVocab | undefined>();
  const vocabOf = (p: string): ModelVocab | undefined => {
    if (!vocabs.has(p)) {
      const d = path.resolve(dir, p);
      let v: ModelVocab | undefined;
      if (fs.existsSync(path.join(d, "tokenizer.json"))) {
        const size = configField(readHfConfig(d), "vocab_size")?.value;
        v = readModelVocab(d, p, typeof size === "number" ? size : undefined);
      }
      vocabs.set(p, v);
    }
    return vocabs.get(p);
  };
  for (const [tok, cfg] of Object.entries(tokens)) {
    const s = cfg.source as string | Record<string, unknown> | undefined;
    const at: YamlPath = ["tokenizer", "tokens", tok, "source"];
    if (typeof s === "string") {
      const v = vocabOf(s);
      if (v && !v.vocab.has(tok)) throw doc.error(at, `token '${tok}' is not in ${s}'s vocabulary (its tokenizer.json), so ${s} has no row to give it`);
    } else if (s && s.kind === "model_token" && typeof s.model === "string") {
      const v = vocabOf(s.model);
      if (!v) continue;
      if (typeof s.token === "string" && !v.vocab.has(s.token)) throw doc.error([...at, "token"], `token '${s.token}' is not in ${s.model}'s vocabulary (its tokenizer.json)`);
      if (typeof s.token_id === "number" && s.token_id >= v.vocabSize) throw doc.error([...at, "token_id"], `token_id ${s.token_id} is out of range for ${s.model} (${v.vocabSize} rows)`);
    }
  }
}

// ---------------------------------------------------------------- rendering

/** A string literal of the language (control characters as \\uHHHH escapes, so the script stays one line). */
function dslString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}

/** Shortest round-trip decimal (0.1, 1e-7); -0 stays 0. */
export function num(x: number): string {
  return Object.is(x, -0) ? "0" : String(x);
}

/** 1 − x without binary noise in the printed value (1 − 0.9 → 0.1). */
function complement(x: number): number {
  return Number((1 - x).toPrecision(15));
}

function renderValue(v: number | Gradient): string {
  return typeof v === "number" ? num(v) : `layers([${v.values.map(num).join(", ")}])`;
}

function render(s: Setting): string {
  if (typeof s === "boolean") return String(s);
  if (typeof s === "number" || s.kind === "gradient") return renderValue(s);
  const table = s.entries.map((e) => `${JSON.stringify(e.filter)}: ${renderValue(e.value)}`).join(", ");
  return `match({${table}}, default=${renderValue(s.fallback!)})`;
}

function mapSetting(s: Setting, f: (x: number) => number): Setting {
  if (typeof s === "boolean") return s;
  if (typeof s === "number") return f(s);
  const g = (v: number | Gradient): number | Gradient => (typeof v === "number" ? f(v) : { kind: "gradient", values: v.values.map(f) });
  if (s.kind === "gradient") return g(s) as Gradient;
  return { kind: "filtered", entries: s.entries.map((e) => ({ filter: e.filter, value: g(e.value) })), fallback: s.fallback === undefined ? undefined : g(s.fallback) };
}

const sameSetting = (a: Setting, b: Setting) => JSON.stringify(a) === JSON.stringify(b);

// ---------------------------------------------------------------- translation

/** Names the script must not shadow: keywords and the language's functions. */
const RESERVED = new Set([
  "def", "for", "in", "if", "else", "and", "or", "not", "true", "false", "none", "True", "False", "None",
  "load", "load_all", "save", "print", "sum", "mean", "explain", "plot", "layers", "match", "slice", "stack",
  "average", "merged", "base", "part", ...METHODS,
]);

interface GtaSettings {
  row: (typeof GTA)[string];
  /** Per expert. */
  weights: Setting[];
  density: Setting[];
  /** DARE: 1 − density. */
  p?: Setting[];
  gamma?: Setting[];
  epsilon?: Setting[];
  normalize: boolean;
  rescale: boolean;
  lambda: Setting;
}

interface Found {
  setting: Setting;
  at: YamlPath;
}

/** A generated script line and the YAML node it came from (none for comments). */
interface Line {
  text: string;
  origin?: LineOrigin;
}

class Translator {
  private readonly loads: Line[] = [];
  private readonly vars = new Map<string, string>();
  private readonly used = new Set<string>();
  /** Lines the merge expressions need first (per-model task vectors). */
  private readonly pre: Line[] = [];
  /** `#` lines printed above the merge. */
  private readonly notes: string[] = [];

  /** The YAML node each parameter was first read from (for error locations). */
  private readonly settingAt = new Map<string, YamlPath>();

  constructor(
    private readonly doc: YamlDoc,
    private readonly cfg: MergekitConfig,
    private readonly opts: MergekitOptions = {},
    /** mergekit-multi: the other merges of the file by name (their variables), and names the script must not reuse. */
    private readonly multi: { named: ReadonlyMap<string, string>; reserved: ReadonlySet<string>; dtypes?: ReadonlyMap<string, string | undefined> } = { named: new Map(), reserved: new Set() },
  ) {
    for (const r of multi.reserved) this.used.add(r);
  }

  /** Every model path of the config with its first YAML entry and its variable. */
  private refs(sources: readonly Source[] = this.cfg.slices.flatMap((s) => s.sources), withBase = true): ModelRef[] {
    const refs: ModelRef[] = [];
    const all = withBase && this.cfg.base !== undefined ? [...sources, { model: this.cfg.base, at: ["base_model"] } as Source] : sources;
    for (const s of all) {
      const name = this.vars.get(s.model);
      if (name && !refs.some((r) => r.path === s.model)) refs.push({ path: s.model, name, at: s.at });
    }
    return refs;
  }

  private origin(at: YamlPath, sources?: readonly Source[]): LineOrigin {
    return { at, models: this.refs(sources) };
  }

  /** The script's lines; without outDir, no save (a merge another one uses, kept in memory). */
  lines(outDir: string | undefined): Line[] {
    const { cfg } = this;
    const method = cfg.method;
    if (!METHODS.includes(method)) {
      throw this.doc.error(["merge_method"], `merge_method '${method}' is not a merge method mergelab knows${didYouMean(method, METHODS)}; it translates: ${METHODS.join(", ")}`);
    }
    this.checkParamNames();
    if (cfg.base !== undefined && !this.multi.named.has(cfg.base)) {
      this.vars.set(cfg.base, "base");
      this.used.add("base");
      if (cfg.method !== "linear" && cfg.method !== "passthrough") this.modelVar(cfg.base);
    } else if (cfg.base !== undefined) this.modelVar(cfg.base);
    for (const s of cfg.slices.flatMap((x) => x.sources)) this.modelVar(s.model);
    this.alignVocab();
    if (cfg.sliced && cfg.slices.length > 1) {
      this.note("stack(): output layers are renumbered consecutively; embeddings come from the first slice, the final norm and lm_head from the last (as in mergekit)");
    }
    const merge = this.translateMerge();
    const header = [
      `# Translated from ${this.doc.file} by \`mergelab from-mergekit\` (mergekit merge_method: ${method}).`,
      ...(DIFFERENCES[method] ? ["# Where mergelab differs from mergekit (kept on purpose; see docs/methods.md):", ...DIFFERENCES[method].map((d) => `#   - ${d}`)] : []),
    ];
    const save = outDir === undefined ? [] : this.saveLine(outDir);
    if (outDir === undefined && typeof (this.doc.value as Record<string, unknown> | undefined)?.chat_template === "string") {
      this.note("chat_template: this merge is passed on in memory and not saved, so its template is written nowhere; give it to the final merge (or save named merges with --intermediate-dir)");
    }
    const comments = (xs: string[]): Line[] => xs.map((text) => ({ text }));
    return [...comments(header), ...this.loads, ...comments(this.notes.map((n) => `# ${n}`)), ...merge, ...save];
  }

  /**
   * mergekit's tokenizer_source / tokenizer: {source, tokens, pad_to_multiple_of}: every loaded model re-indexed
   * to the output vocabulary (align_vocab: rows by token string, tokens= per-token rows), then merged as before.
   * A tokenizer: block without source: is mergekit's default, union.
   */
  private alignVocab(): void {
    const root = (this.doc.value ?? {}) as Record<string, unknown>;
    const block = (root.tokenizer ?? undefined) as Record<string, unknown> | undefined;
    const source = (block ? (block.source ?? "union") : root.tokenizer_source) as string | undefined;
    const pad = (block?.pad_to_multiple_of ?? undefined) as number | undefined;
    const tokens = (block?.tokens ?? undefined) as Record<string, Record<string, unknown>> | undefined;
    const at: YamlPath = block?.source !== undefined ? ["tokenizer", "source"] : block ? ["tokenizer"] : ["tokenizer_source"];
    if (source === undefined) return;
    if (source === "base" && pad === undefined && tokens === undefined) {
      this.note("tokenizer_source: base: the output copies the base model's config and tokenizer files");
      return;
    }
    const names = this.loads.map((l) => /^(\w+) = load\(/.exec(l.text)?.[1]).filter((n): n is string => n !== undefined);
    const modelVar = (p: string, where: YamlPath, what: string): string => {
      const v = this.vars.get(p);
      if (v === undefined || !names.includes(v)) throw this.doc.error(where, `${what} '${p}' is not one of the merged models`);
      return v;
    };
    let src = `"${source}"`;
    if (source !== "base" && source !== "union") src = modelVar(source, at, "tokenizer source");
    const base = this.cfg.base !== undefined && names.includes("base") ? ", base=base" : "";
    let args = `[${names.join(", ")}]${base}, source=${src}${pad !== undefined ? `, pad_to_multiple_of=${pad}` : ""}`;
    if (tokens !== undefined && Object.keys(tokens).length > 0) {
      const entries = Object.entries(tokens).map(([tok, cfg]) => {
        const here: YamlPath = ["tokenizer", "tokens", tok, "source"];
        const s = cfg.source as string | Record<string, unknown>;
        const fields: string[] = [];
        if (typeof s === "string") fields.push(`source: ${modelVar(s, here, "token source")}`);
        else if (s.kind === "zero") fields.push('source: "zero"');
        else {
          fields.push(`source: ${modelVar(s.model as string, [...here, "model"], "token source")}`);
          fields.push(s.token !== undefined ? `token: ${dslString(s.token as string)}` : `token_id: ${s.token_id as number}`);
        }
        if (cfg.force === true) fields.push("force: true");
        return `${dslString(tok)}: {${fields.join(", ")}}`;
      });
      args += `, tokens={${entries.join(", ")}}`;
      if (Object.values(tokens).some((c) => (c.source as { kind?: unknown } | undefined)?.kind === "zero")) {
        this.note("tokens: kind: zero gives zero rows (mergekit's README); mergekit's own code at a6e4028 fails on it (embed.py) — see docs/methods.md");
      }
    }
    this.loads.push({ text: `aligned = align_vocab(${args})`, origin: this.origin(block?.tokens !== undefined && block.source === undefined ? ["tokenizer", "tokens"] : at) });
    names.forEach((n, i) => this.loads.push({ text: `${n} = aligned[${i}]`, origin: this.origin(at) }));
  }

  private saveLine(outDir: string): Line[] {
    const { dtype, outDtype } = this.cfg;
    const lines: Line[] = [];
    if (dtype) lines.push({ text: `# dtype: ${this.cfg.dtypeName}: mergekit computes in it; mergelab computes in float32${outDtype ? "" : ` and writes ${dtype}`}` });
    let written = outDtype ?? dtype;
    if (!written && this.cfg.method === "arcee_fusion") {
      lines.push({ text: "# no dtype: mergekit writes arcee_fusion's result in float32 (its float32 mask promotes it)" });
      written = "f32";
    }
    if (!written) {
      const mixed = this.mixedInputDtype();
      if (mixed) {
        lines.push({ text: `# no dtype, inputs in ${mixed.inputs.join(" and ")}: mergekit writes ${mixed.dtype} (${mixed.why})` });
        written = mixed.dtype;
      }
    }
    // mergekit-multi: named in the dtype it is written in, so a merge that uses another knows its dtype
    written ??= this.multi.dtypes ? this.outputDtype() : undefined;
    const at = this.doc.value && "dtype" in (this.doc.value as object) ? ["dtype"] : ["merge_method"];
    const run = this.opts.run ?? {};
    for (const n of run.notes ?? []) lines.push({ text: `# ${n}` });
    const extra = [
      ...(written ? [`dtype=${JSON.stringify(written)}`] : []),
      ...(run.shardSize !== undefined ? [`shard_size=${run.shardSize}`] : []),
      ...(run.overwrite ? ["overwrite=true"] : []),
    ];
    const template = (this.doc.value as Record<string, unknown> | undefined)?.chat_template;
    if (template === "llama3" || template === "alpaca" || template === "exaone") {
      this.note(`chat_template: ${template}: mergelab's template follows the published format; mergekit's file adds newlines/indentation (docs/huggingface.md)`);
    }
    const text0 = `save(merged, ${[JSON.stringify(outDir), ...extra].join(", ")}`;
    // mergekit's chat_template: an error about it (an unknown name, a template that does not parse) points at its line
    const spans = typeof template === "string" ? [{ from: text0.length + 2, to: text0.length + 2 + `chat_template=${dslString(template)}`.length, at: ["chat_template"] as YamlPath }] : [];
    const text = typeof template === "string" ? `${text0}, chat_template=${dslString(template)})` : `${text0})`;
    lines.push({ text, origin: { ...this.origin(at), spans } });
    return lines;
  }

  /**
   * Without `dtype`, mergekit writes what its merge produced: methods that cast to the base model's
   * dtype (the task-arithmetic family, slerp) give the base's; the others (linear, model_stock) give
   * torch's promotion of the inputs (float32 over bfloat16/float16). mergelab writes the first model's
   * dtype by default, so for mixed inputs the script names mergekit's. From the checkpoints' headers.
   */
  private mixedInputDtype(): { dtype: string; inputs: string[]; why: string } | undefined {
    const dir = this.opts.inputsDir ?? this.opts.checkPathsIn;
    if (dir === undefined) return undefined;
    const names: Record<string, string> = { F32: "f32", BF16: "bf16", F16: "f16" };
    const dtypeOf = (p: string): string | undefined => {
      const merge = this.multi.dtypes?.get(p);
      if (merge !== undefined || this.multi.named.has(p)) return merge;
      try {
        const c = openCheckpoint(path.resolve(dir, p));
        try {
          return c.tensors.map((t) => names[t.dtype]).find((d) => d !== undefined);
        } finally {
          c.close();
        }
      } catch {
        return undefined;
      }
    };
    const paths = [...new Set([...this.cfg.slices.flatMap((s) => s.sources.map((x) => x.model)), ...(this.cfg.base ? [this.cfg.base] : [])])];
    const dtypes = paths.map(dtypeOf);
    if (dtypes.some((d) => d === undefined)) return undefined;
    const set = [...new Set(dtypes as string[])].sort();
    if (set.length < 2) return undefined;
    if (this.cfg.method === "passthrough") return undefined; // each tensor keeps its own dtype in mergekit
    const castsToBase = this.cfg.method in GTA || this.cfg.method === "slerp";
    const base = this.cfg.slices[0].base ?? this.cfg.base;
    if (castsToBase && base !== undefined) return { dtype: dtypeOf(base)!, inputs: set, why: "its result is cast to the base model's dtype" };
    return { dtype: "f32", inputs: set, why: "torch promotes mixed float dtypes to float32" };
  }

  /**
   * The dtype this merge is written in, as mergekit writes it: out_dtype, dtype, mergekit's choice for mixed
   * inputs, or the inputs' one dtype (undefined when not known: no headers to read).
   */
  outputDtype(): string | undefined {
    const { dtype, outDtype } = this.cfg;
    if (outDtype ?? dtype) return outDtype ?? dtype;
    if (this.cfg.method === "arcee_fusion") return "f32";
    const mixed = this.mixedInputDtype();
    if (mixed) return mixed.dtype;
    const dir = this.opts.inputsDir ?? this.opts.checkPathsIn;
    const paths = [...new Set([...this.cfg.slices.flatMap((s) => s.sources.map((x) => x.model)), ...(this.cfg.base ? [this.cfg.base] : [])])];
    const dtypes = new Set(paths.map((p) => {
      if (this.multi.named.has(p)) return this.multi.dtypes?.get(p);
      if (dir === undefined) return undefined;
      try {
        const c = openCheckpoint(path.resolve(dir, p));
        try {
          return c.tensors.map((t) => ({ F32: "f32", BF16: "bf16", F16: "f16" })[t.dtype as string]).find((d) => d !== undefined);
        } finally {
          c.close();
        }
      } catch {
        return undefined;
      }
    }));
    return dtypes.size === 1 ? [...dtypes][0] : undefined;
  }

  /** A variable per model path, declared with load() on first use; `base` for base_model. */
  private modelVar(path: string): string {
    const merge = this.multi.named.get(path);
    if (merge !== undefined) {
      this.vars.set(path, merge);
      return merge;
    }
    let name = this.vars.get(path);
    if (!name) {
      const stem = path.replace(/[\\/]+$/, "").split(/[\\/]/).pop()!.replace(/\.safetensors$/, "");
      let candidate = stem.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "model";
      if (/^\d/.test(candidate)) candidate = `m_${candidate}`;
      if (RESERVED.has(candidate) || /^(tv|part)\d*$/.test(candidate)) candidate = `${candidate}_model`; // names the script itself uses
      name = candidate;
      for (let i = 2; this.used.has(name); i++) name = `${candidate}_${i}`;
      this.vars.set(path, name);
      this.used.add(name);
    }
    if (!this.loads.some((l) => l.text.startsWith(`${name} = `))) {
      const ref = this.refs().find((r) => r.path === path);
      const at = ref ? (ref.at[0] === "base_model" ? ref.at : [...ref.at, "model"]) : ["merge_method"];
      // mergekit's model+lora: the LoRA adapter applied to the model
      const [model, lora] = path.split("+");
      const text = lora === undefined ? `${name} = load(${JSON.stringify(path)})` : `${name} = load(${JSON.stringify(lora)}, base=load(${JSON.stringify(model)}))`;
      this.loads.push({ text, origin: { at, models: ref ? [ref] : [] } });
    }
    return name;
  }

  private expr(s: Source): string {
    const v = this.modelVar(s.model);
    return s.layerRange ? `slice(${v}, ${s.layerRange[0]}, ${s.layerRange[1]})` : v;
  }

  /** Every parameter name is one mergekit knows; one the method does not read is ignored with a comment. */
  private checkParamNames(): void {
    const method = this.cfg.method;
    const known = { ...globalParams(method), ...tensorParams(method) };
    const blocks = [this.cfg.params, this.cfg.moduleParams, ...this.cfg.slices.flatMap((s) => [s.params, ...s.sources.map((x) => x.params)])];
    const ignored = new Set<string>();
    for (const b of blocks) {
      for (const name of Object.keys(b?.values ?? {})) {
        if (name in known) continue;
        if (!OTHER_MERGEKIT_PARAMS.includes(name)) {
          throw this.doc.error([...b!.at, name], `unknown parameter '${name}'${didYouMean(name, [...Object.keys(known), ...OTHER_MERGEKIT_PARAMS])}`, "key");
        }
        ignored.add(name);
      }
    }
    for (const name of ignored) this.notes.push(`${name}: not a parameter of ${method}; ignored (as mergekit does)`);
  }

  /**
   * mergekit's lookup order: the model's parameters, then the slice's, then
   * the global ones. Filter entries without a `- value:` default fall back to
   * the parameter's default (mergekit's rule for a tensor no filter matches).
   */
  private lookup(name: string, slice: Slice, source?: Source, names: "input" | "output" = source ? "input" : "output"): Found | undefined {
    for (const block of [source?.params, slice.params, this.cfg.moduleParams, this.cfg.params]) {
      if (block && name in block.values && block.values[name] !== null) {
        const at = [...block.at, name];
        if (!this.settingAt.has(name)) this.settingAt.set(name, at);
        let setting = readSetting(this.doc, block.values[name], at, name);
        if (this.cfg.sliced) setting = this.remapFilters(setting, slice, source, names, at);
        if (typeof setting === "object" && setting.kind === "filtered" && setting.fallback === undefined) {
          const dflt = { ...globalParams(this.cfg.method), ...tensorParams(this.cfg.method) }[name];
          if (typeof dflt !== "number") throw this.doc.error(at, `${name}: add a default entry '- value: …' (a tensor that matches no filter needs a value)`);
          setting.fallback = dflt;
        }
        return { setting, at };
      }
    }
    return undefined;
  }

  /**
   * In a slices merge the merged tensors are the slice's own (layers renumbered from 0), but mergekit
   * matches a per-model parameter's filters against the INPUT tensor name (layer start + j) and a
   * method-wide one's against the OUTPUT name (the layers of earlier slices + j) — plan.py's cfg_m and
   * cfg_g. A filter naming a layer (`layers.5.`) is moved to the slice's own numbering, or dropped when
   * that layer is not in the slice (it then matches nothing, as in mergekit).
   */
  private remapFilters(s: Setting, slice: Slice, source: Source | undefined, names: "input" | "output", at: YamlPath): Setting {
    if (typeof s !== "object" || s.kind !== "filtered") return s;
    const index = this.cfg.slices.indexOf(slice);
    const length = (slice.sources[0].layerRange![1] - slice.sources[0].layerRange![0]);
    const offset = names === "input"
      ? (source?.layerRange ?? slice.sources[0].layerRange!)[0]
      : this.cfg.slices.slice(0, index).reduce((n, x) => n + x.sources[0].layerRange![1] - x.sources[0].layerRange![0], 0);
    const entries: typeof s.entries = [];
    for (const e of s.entries) {
      const m = /((?:^|\.)(?:layers|layer|h|blocks)\.)(\d+)(\.|$)/.exec(e.filter);
      if (!m) {
        entries.push(e);
        continue;
      }
      if (m[3] === "") throw this.doc.error(at, `filter '${e.filter}' in a slices merge: end the layer number with '.' ('${e.filter}.'), so it names one layer`);
      const j = Number(m[2]) - offset;
      if (j < 0 || j >= length) continue;
      entries.push({ filter: e.filter.replace(m[0], `${m[1]}${j}${m[3]}`), value: e.value });
    }
    if (entries.length === 0 && s.fallback !== undefined) return s.fallback;
    return { ...s, entries };
  }

  /** A per-model parameter: the model's own value or the default; `required` ones must be given. */
  private tensorParam(name: string, slice: Slice, source: Source): Setting {
    const found = this.lookup(name, slice, source);
    if (found) {
      if (typeof found.setting === "boolean") throw this.doc.error(found.at, `${name}: expected a number, not true/false`);
      return found.setting;
    }
    const dflt = tensorParams(this.cfg.method)[name];
    if (dflt === REQUIRED || dflt === undefined) {
      throw this.doc.error(source.at, `'${name}' is required for ${this.cfg.method} (give it under this model's parameters, or globally)`);
    }
    return dflt as number;
  }

  /** A once-per-merge parameter (bools: normalize, rescale, …). */
  private globalParam(name: string, slice: Slice, kind: "number" | "bool"): Setting {
    const found = this.lookup(name, slice);
    const dflt: Default = globalParams(this.cfg.method)[name];
    if (!found) {
      if (dflt === REQUIRED || dflt === undefined) throw this.doc.error(this.cfg.params?.at ?? ["merge_method"], `'${name}' is required for ${this.cfg.method} (add 'parameters: {${name}: …}')`);
      return dflt as number | boolean;
    }
    if (kind === "bool" && typeof found.setting !== "boolean") throw this.doc.error(found.at, `${name}: expected true or false`);
    if (kind === "number" && typeof found.setting === "boolean") throw this.doc.error(found.at, `${name}: expected a number, not true/false`);
    return found.setting;
  }

  private translateMerge(): Line[] {
    const { slices, sliced } = this.cfg;
    const parts = slices.map((slice, i) => this.translateSlice(slice, i));
    const pre = this.pre.splice(0);
    const merged = (text: string): Line => ({ text, origin: { ...this.origin(["merge_method"]), spans: this.spans(text) } });
    if (this.cfg.method === "passthrough" || !sliced) {
      if (parts.length === 1) return [...pre, merged(`merged = ${parts[0]}`)];
      return [...pre, merged(`merged = stack([${parts.join(", ")}])`)];
    }
    if (parts.length === 1) return [...pre, merged(`merged = ${parts[0]}`)];
    const names = parts.map((_, i) => `part${i + 1}`);
    const partLines = parts.map((p, i): Line => ({ text: `${names[i]} = ${p}`, origin: { ...this.origin(slices[i].at, slices[i].sources), spans: this.spans(`${names[i]} = ${p}`) } }));
    return [...pre, ...partLines, merged(`merged = stack([${names.join(", ")}])`)];
  }

  /** The expression that merges one output slice (lines it needs first go to `pre`). */
  private translateSlice(slice: Slice, index: number): string {
    const method = this.cfg.method;
    if (method === "passthrough") return this.passthrough(slice);
    if (method === "linear") return this.linear(slice, index);
    if (method === "slerp") return this.slerp(slice);
    if (method === "nearswap") return this.nearswap(slice);
    if (method === "multislerp") return this.multislerp(slice);
    if (method === "sce") return this.sce(slice);
    if (method === "ram" || method === "ramplus_tl") return this.ram(slice);
    if (method === "nuslerp") return this.nuslerp(slice);
    if (method === "karcher") return this.karcher(slice);
    if (method === "arcee_fusion") return this.arceeFusion(slice);
    const base = this.baseSource(slice);
    const experts = slice.sources.filter((s) => s !== base);
    if (experts.length === 0) throw this.doc.error(slice.at, `${method} needs at least one model besides base_model`);
    const xs = `[${experts.map((s) => this.expr(s)).join(", ")}]`;
    if (method === "model_stock") {
      const fw = this.globalParam("filter_wise", slice, "bool");
      return `model_stock(${xs}, base=${this.expr(base)}${fw === true ? ", filter_wise=true" : ""})`;
    }
    const gta = this.gtaSettings(slice, experts);
    const uniform = (xs?: Setting[]) => !xs || xs.every((x) => sameSetting(x, xs[0]));
    // breadcrumbs' rescale: true (the L1 rescale of each trimmed task vector) is trim_outliers(..., rescale=true)
    const outlierRescale = gta.rescale && gta.row.sparsify === "outliers";
    if (uniform(gta.density) && uniform(gta.gamma) && uniform(gta.epsilon) && !outlierRescale) {
      return `${method}(${xs}, base=${this.expr(base)}, ${this.gtaArgs(gta).join(", ")})`;
    }
    return this.gtaBlocks(gta, experts, base, index);
  }

  private baseSource(slice: Slice): Source {
    const base = slice.base ?? this.cfg.base;
    if (base === undefined) throw this.doc.error(["merge_method"], `${this.cfg.method} needs 'base_model'`);
    const found = slice.sources.find((s) => s.model === base);
    if (found) return found;
    // mergekit's planner adds a missing base only in the models form; a slice's base must be one of its sources
    if (slice.base !== undefined) throw this.doc.error([...slice.at, "base_model"], `this slice's base_model '${base}' is not one of its sources (add it with a layer_range)`);
    if (this.cfg.sliced) throw this.doc.error(slice.at, `this slice has no source for base_model '${base}' (give it a layer_range here)`);
    return { model: base, at: ["base_model"] };
  }

  /** Every parameter of a generalized task-arithmetic merge, resolved as mergekit would. */
  private gtaSettings(slice: Slice, experts: Source[]): GtaSettings {
    const row = GTA[this.cfg.method];
    const per = (name: string) => experts.map((s) => this.tensorParam(name, slice, s));
    const density = per("density");
    const gamma = row.sparsify === "outliers" ? per("gamma") : undefined;
    if (this.lookup("int8_mask", slice)) this.note("int8_mask: ignored (mergelab votes in float32; the result does not depend on it)");
    if (row.sparsify === "random") this.note("density d (fraction kept) is written as p = 1 - d (DARE's drop probability)");
    const rescale = this.globalParam("rescale", slice, "bool") as boolean;
    if (!HAS_RESCALE.has(this.cfg.method) && rescale && row.sparsify && row.sparsify !== "outliers") {
      throw this.doc.error(this.lookup("rescale", slice)!.at, `rescale: true is not supported yet for ${this.cfg.method} (mergekit rescales the trimmed task vector to its L1 norm)`);
    }
    if (gamma && gamma.some((g, i) => density[i] === 1 && g !== 0)) {
      // mergekit skips the outlier cut entirely at density 1; gamma=0 says the same to mergelab
      this.note("density 1: mergekit keeps the whole task vector (no outlier cut), so gamma is 0 there");
      gamma.forEach((_, i) => density[i] === 1 && (gamma[i] = 0));
    }
    return {
      row,
      weights: per("weight"),
      density,
      p: row.sparsify === "random" ? density.map((d) => mapSetting(d, complement)) : undefined,
      gamma,
      epsilon: row.sparsify === "della" ? per("epsilon") : undefined,
      normalize: this.globalParam("normalize", slice, "bool") as boolean,
      rescale,
      lambda: this.globalParam("lambda", slice, "number"),
    };
  }

  /** Keyword arguments of the method call when k/p/γ/ε are one value for all experts. */
  private gtaArgs(s: GtaSettings): string[] {
    const { row } = s;
    const args = [`${NAMES.weights}=[${s.weights.map(render).join(", ")}]`];
    if (s.p) args.push(`${NAMES.p}=${render(s.p[0])}`);
    else if (row.sparsify) args.push(`${NAMES.k}=${render(s.density[0])}`);
    if (row.sparsify === "magnitude") args.push('ties="index"'); // mergekit keeps exactly int(k·n)
    if (s.gamma) args.push(`${NAMES.gamma}=${render(s.gamma[0])}`);
    if (s.epsilon) args.push(`${NAMES.epsilon}=${render(s.epsilon[0])}`);
    args.push(`${NAMES.lambda}=${render(s.lambda)}`, `normalize=${s.normalize}`);
    // ties: rescale is mergekit's L1 rescale of the trimmed task vector, spelled only when asked for
    if (HAS_RESCALE.has(this.cfg.method) && (row.sparsify !== "magnitude" || s.rescale)) args.push(`rescale=${s.rescale}`);
    if (row.sparsify === "random" || row.sparsify === "della") args.push(`seed=${this.opts.run?.seed ?? 0}`);
    return args;
  }

  /**
   * Per-model density/gamma/epsilon (mergelab's methods take one value for all
   * experts): the same merge spelled with the building blocks — each task
   * vector sparsified with its own value, then the TIES disjoint mean or the
   * weighted sum. Random sparsifiers get one seed per expert (seed=i), as the
   * method's per-expert streams would differ.
   */
  private gtaBlocks(s: GtaSettings, experts: Source[], base: Source, index: number): string {
    const { row } = s;
    const b = this.expr(base);
    const sparsified = experts.map((x, i) => {
      const d = `task_vector(${this.expr(x)}, ${b})`;
      switch (row.sparsify) {
        case "magnitude":
          // rescale: true is mergekit's L1 rescale of each trimmed task vector (ties' rescale, per expert)
          return `trim(${d}, k=${render(s.density[i])}, ties="index"${s.rescale ? ", rescale=true" : ""})`;
        case "random": return `drop(${d}, p=${render(s.p![i])}, seed=${(this.opts.run?.seed ?? 0) + i}, rescale=${s.rescale})`;
        case "outliers": return `trim_outliers(${d}, k=${render(s.density[i])}, ${NAMES.gamma}=${render(s.gamma![i])}${s.rescale ? ", rescale=true" : ""})`;
        case "della": return `magprune(${d}, k=${render(s.density[i])}, ${NAMES.epsilon}=${render(s.epsilon![i])}, seed=${(this.opts.run?.seed ?? 0) + i}, rescale=${s.rescale})`;
        default: return d;
      }
    });
    const tv = this.cfg.slices.length > 1 ? `tv${index + 1}` : "tv";
    this.note(row.sparsify === "outliers" && s.rescale
      ? "rescale: true: spelled with the building blocks (task_vector, trim_outliers(..., rescale=true), then disjoint_mean or linear)"
      : "per-model density/gamma/epsilon: spelled with the building blocks (task_vector, sparsifier, then disjoint_mean or linear)");
    const bracket = { text: "", origin: this.origin(["merge_method"]) };
    this.pre.push(
      { ...bracket, text: `${tv} = [` },
      ...sparsified.map((x, i): Line => ({ text: `  ${x},`, origin: { at: [...experts[i].at, "model"], models: this.refs([experts[i], base], false) } })),
      { ...bracket, text: "]" },
    );
    const weights = `${NAMES.weights}=[${s.weights.map(render).join(", ")}], normalize=${s.normalize}`;
    const delta = row.consensus ? `disjoint_mean(${tv}, ${weights})` : `linear(${tv}, ${weights})`;
    // mergekit: base + λ·δ; a λ that varies by layer or tensor scales δ per tensor (passthrough's schedulable scale)
    if (typeof s.lambda !== "number") return `${b} + passthrough(${delta}, scale=${render(s.lambda)})`;
    return `${b} + ${num(s.lambda)} * ${delta}`;
  }

  /** Where each `name=value` argument of a generated line came from in the YAML. */
  private spans(text: string): Array<{ from: number; to: number; at: YamlPath }> {
    const yamlKey: Record<string, string> = { [NAMES.k]: "density", [NAMES.p]: "density", [NAMES.gamma]: "gamma", [NAMES.epsilon]: "epsilon", [NAMES.lambda]: "lambda", [NAMES.weights]: "weight", t: "t", normalize: "normalize", rescale: "rescale", scale: "scale" };
    const out: Array<{ from: number; to: number; at: YamlPath }> = [];
    for (const m of text.matchAll(/(?<=[(,\s])([^\s=(),\[\]]+)=/g)) {
      const at = this.settingAt.get(yamlKey[m[1]] ?? "");
      if (!at) continue;
      // the argument runs to the next top-level comma or the call's closing parenthesis
      let depth = 0;
      let end = m.index! + m[0].length;
      for (; end < text.length; end++) {
        const c = text[end];
        if (c === "(" || c === "[" || c === "{") depth++;
        else if (c === ")" || c === "]" || c === "}") {
          if (depth === 0) break;
          depth--;
        } else if (c === "," && depth === 0) break;
      }
      out.push({ from: m.index!, to: end, at });
    }
    return out;
  }

  private note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  private linear(slice: Slice, index: number): string {
    let sources = slice.sources;
    const base = this.cfg.base;
    if (!this.cfg.sliced && base !== undefined && !sources.some((s) => s.model === base)) {
      // mergekit's planner (normalize_config) adds the base as one more input, its weight looked up like any
      // model's (the slice's or global 'weight'); without one its weight is None and mergekit fails
      const baseSource: Source = { model: base, at: ["base_model"] };
      if (!this.lookup("weight", slice, baseSource)) {
        throw this.doc.error(["base_model"], "base_model is not one of the models: mergekit adds it to a linear merge, so it needs a weight (add a global 'weight', or list it under models with its own)");
      }
      if (index === 0) this.note("base_model is not one of the models: added to the merge with the global weight, as mergekit does");
      sources = [...sources, baseSource];
    }
    const weights = sources.map((s) => this.tensorParam("weight", slice, s));
    const normalize = this.globalParam("normalize", slice, "bool");
    return `linear([${sources.map((s) => this.expr(s)).join(", ")}], ${NAMES.weights}=[${weights.map((w) => render(w)).join(", ")}], normalize=${normalize})`;
  }

  private slerp(slice: Slice): string {
    const base = this.baseSource(slice);
    const others = slice.sources.filter((s) => s !== base);
    if (others.length !== 1) throw this.doc.error(slice.at, "slerp merges exactly two models: base_model and one other");
    const t = this.globalParam("t", slice, "number");
    return `slerp(${this.expr(base)}, ${this.expr(others[0])}, t=${render(t)})`;
  }

  /** mergekit's multislerp: the models other than the base, interpolated around the base when there is one. */
  private multislerp(slice: Slice): string {
    const baseModel = slice.base ?? this.cfg.base;
    const base = baseModel === undefined ? undefined : slice.sources.find((s) => s.model === baseModel) ?? (this.cfg.sliced ? undefined : { model: baseModel, at: ["base_model"] });
    const xs = slice.sources.filter((s) => s !== base && s.model !== baseModel);
    if (xs.length === 0) throw this.doc.error(slice.at, "multislerp needs at least one model besides base_model");
    const weights = xs.map((s) => this.tensorParam("weight", slice, s));
    const normalize = this.globalParam("normalize_weights", slice, "bool");
    const eps = this.globalParam("eps", slice, "number");
    const baseArg = base ? `, base=${this.expr(base)}` : "";
    return `multislerp([${xs.map((s) => this.expr(s)).join(", ")}]${baseArg}, ${NAMES.weights}=[${weights.map(render).join(", ")}], normalize=${normalize}, ε=${render(eps)})`;
  }

  /** mergekit's nuslerp: exactly two models besides the optional base; t = w₁/(w₀ + w₁) from their weights. */
  private nuslerp(slice: Slice): string {
    const baseModel = slice.base ?? this.cfg.base;
    const base = baseModel === undefined ? undefined : slice.sources.find((s) => s.model === baseModel) ?? (this.cfg.sliced ? undefined : { model: baseModel, at: ["base_model"] });
    const xs = slice.sources.filter((s) => s !== base && s.model !== baseModel);
    if (xs.length !== 2) throw this.doc.error(slice.at, `nuslerp merges exactly two models besides base_model (got ${xs.length})`);
    const weights = xs.map((s) => this.tensorParam("weight", slice, s));
    const rowWise = this.globalParam("nuslerp_row_wise", slice, "bool");
    const flatten = this.globalParam("nuslerp_flatten", slice, "bool");
    const baseArg = base ? `, base=${this.expr(base)}` : "";
    return `nuslerp([${xs.map((s) => this.expr(s)).join(", ")}]${baseArg}, ${NAMES.weights}=[${weights.map(render).join(", ")}], row_wise=${rowWise}, flatten=${flatten})`;
  }

  /** mergekit's karcher: every model of the slice, the base included (mergekit's planner adds it), equal weights. */
  private karcher(slice: Slice): string {
    const baseModel = slice.base ?? this.cfg.base;
    const sources = [...slice.sources];
    if (baseModel !== undefined && !sources.some((s) => s.model === baseModel) && !this.cfg.sliced) sources.push({ model: baseModel, at: ["base_model"] });
    if (sources.some((s) => this.lookup("weight", slice, s))) this.note("weight: ignored (mergekit's karcher weighs every model equally)");
    if (baseModel !== undefined) this.note("base_model: averaged in like any model (mergekit's planner adds it to the merge; karcher has no base)");
    const maxIter = this.globalParam("max_iter", slice, "number");
    const tol = this.globalParam("tol", slice, "number");
    return `karcher([${sources.map((s) => this.expr(s)).join(", ")}], max_iter=${render(maxIter)}, tol=${render(tol)})`;
  }

  /** mergekit's arcee_fusion: base_model and exactly one other model. */
  private arceeFusion(slice: Slice): string {
    const base = this.baseSource(slice);
    const others = slice.sources.filter((s) => s !== base);
    if (others.length !== 1) throw this.doc.error(slice.at, "arcee_fusion merges exactly two models: base_model and one other");
    if (this.lookup("weight", slice, others[0])) this.note("weight: ignored (mergekit's arcee_fusion takes none)");
    return `arcee_fusion(${this.expr(base)}, ${this.expr(others[0])})`;
  }

  /** mergekit's sce: the models other than the base (required), select_topk (int8_mask does not change the result). */
  private sce(slice: Slice): string {
    const base = this.baseSource(slice);
    const xs = slice.sources.filter((s) => s !== base);
    if (xs.length === 0) throw this.doc.error(slice.at, "sce needs at least one model besides base_model");
    if (this.lookup("int8_mask", slice)) this.note("int8_mask: ignored (mergelab votes in float32; the result does not depend on it)");
    const topk = this.globalParam("select_topk", slice, "number");
    return `sce([${xs.map((s) => this.expr(s)).join(", ")}], base=${this.expr(base)}, select_topk=${render(topk)})`;
  }

  /** mergekit's ram / ramplus_tl: the models other than the base (required). */
  private ram(slice: Slice): string {
    const base = this.baseSource(slice);
    const xs = slice.sources.filter((s) => s !== base);
    if (xs.length === 0) throw this.doc.error(slice.at, `${this.cfg.method} needs at least one model besides base_model`);
    const args = [`base=${this.expr(base)}`];
    if (this.cfg.method === "ramplus_tl") args.push(`r=${render(this.globalParam("r", slice, "number"))}`, `α=${render(this.globalParam("alpha", slice, "number"))}`);
    args.push(`ε=${render(this.globalParam("epsilon", slice, "number"))}`);
    return `${this.cfg.method}([${xs.map((s) => this.expr(s)).join(", ")}], ${args.join(", ")})`;
  }

  /** mergekit's nearswap: the base and exactly one other model (mergekit requires base_model). */
  private nearswap(slice: Slice): string {
    const base = this.baseSource(slice);
    const others = slice.sources.filter((s) => s !== base);
    if (others.length !== 1) throw this.doc.error(slice.at, "nearswap merges exactly two models: base_model and one other");
    const t = this.globalParam("t", slice, "number");
    return `nearswap(${this.expr(base)}, ${this.expr(others[0])}, t=${render(t)})`;
  }

  /** passthrough copies one model (optionally scaled); with slices, the layers are stacked and renumbered. */
  private passthrough(slice: Slice): string {
    if (slice.sources.length !== 1) throw this.doc.error(slice.sources[1].at, "passthrough takes exactly one model per slice");
    const source = slice.sources[0];
    const found = this.lookup("scale", slice, source);
    if (!found) return this.expr(source);
    if (typeof found.setting === "boolean") throw this.doc.error(found.at, "scale: expected a number");
    return `passthrough(${this.expr(source)}, scale=${render(found.setting)})`;
  }
}
