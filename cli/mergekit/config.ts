/**
 * A mergekit config, read and validated: the `models:` form and the `slices:`
 * form become one list of output slices (the models form is one slice whose
 * sources have no layer range). Parameter settings keep mergekit's shapes:
 * a number, a bool, a gradient (list of numbers, interpolated over layers) or
 * filter entries (`- filter: self_attn / value: …`, first match wins).
 */
import type { YamlDoc, YamlPath } from "./yaml.js";
import { didYouMean } from "../../core/suggest.js";

export interface Gradient {
  kind: "gradient";
  values: number[];
}
export interface Filtered {
  kind: "filtered";
  entries: Array<{ filter: string; value: number | Gradient }>;
  /** The entry without `filter:` (mergekit's default), if any. */
  fallback?: number | Gradient;
}
export type Setting = number | boolean | Gradient | Filtered;

/** A `parameters:` block: raw values, parsed on demand so errors point at the one in use. */
export interface ParamBlock {
  values: Record<string, unknown>;
  at: YamlPath;
}

export interface Source {
  model: string;
  at: YamlPath;
  params?: ParamBlock;
  /** [start, end): mergekit's layer_range, end exclusive. */
  layerRange?: [number, number];
}

export interface Slice {
  sources: Source[];
  params?: ParamBlock;
  at: YamlPath;
  /** The slice's own base_model (mergekit's OutputSliceDefinition.base_model: overrides the global one). */
  base?: string;
}

export interface MergekitConfig {
  method: string;
  base?: string;
  slices: Slice[];
  /** true for the `slices:` form (sources carry layer ranges). */
  sliced: boolean;
  params?: ParamBlock;
  /** `modules: {default: {…, parameters}}`: the module's parameters (looked up after the slice's, before the global ones). */
  moduleParams?: ParamBlock;
  /** mergelab dtypes for save() ("bf16"); dtypeName is the config's spelling. */
  dtype?: string;
  dtypeName?: string;
  outDtype?: string;
}

export const TOP_LEVEL_KEYS = [
  "merge_method", "models", "slices", "base_model", "parameters", "dtype", "out_dtype",
  "tokenizer_source", "tokenizer", "chat_template", "name", "modules",
] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function readConfig(doc: YamlDoc): MergekitConfig {
  const root = doc.value;
  if (!isRecord(root)) throw doc.error([], "a mergekit config is a mapping with at least 'merge_method' and 'models' or 'slices'");
  for (const k of Object.keys(root)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) throw doc.error([k], `unknown key '${k}'${didYouMean(k, TOP_LEVEL_KEYS)}`, "key");
  }
  checkUnsupported(doc, root);
  if (typeof root.merge_method !== "string") throw doc.error(root.merge_method === undefined ? [] : ["merge_method"], "'merge_method' is required (e.g. merge_method: ties)");
  const base = root.base_model === undefined || root.base_model === null ? undefined : modelPath(doc, root.base_model, ["base_model"]);
  if (root.models !== undefined && root.slices !== undefined) throw doc.error(["slices"], "give either 'models' or 'slices', not both");
  // modules: {default: {models | slices, parameters}}: mergekit's per-module form; the architectures mergelab
  // reads are single-module ones, whose one module mergekit names 'default'
  let body: Record<string, unknown> = root;
  let prefix: YamlPath = [];
  if (root.modules !== undefined) {
    if (root.models !== undefined || root.slices !== undefined) throw doc.error(["modules"], "give one of 'models', 'slices' or 'modules'");
    if (!isRecord(root.modules) || Object.keys(root.modules).length === 0) throw doc.error(["modules"], "modules: expected a mapping of module name to '{models: …}' or '{slices: …}'");
    const names = Object.keys(root.modules);
    const other = names.find((n) => n !== "default");
    if (other !== undefined) throw doc.error(["modules", other], `module '${other}': the architectures mergelab merges have one module, 'default' (multi-module models such as vision-language ones are not supported)`, "key");
    const m = root.modules.default;
    if (!isRecord(m)) throw doc.error(["modules", "default"], "modules: default: expected 'models:' or 'slices:' (and optional 'parameters:')");
    for (const k of Object.keys(m)) if (!["models", "slices", "parameters"].includes(k)) throw doc.error(["modules", "default", k], `unknown key '${k}'${didYouMean(k, ["models", "slices", "parameters"])}`, "key");
    if ((m.models === undefined) === (m.slices === undefined)) throw doc.error(["modules", "default"], "a module needs either 'models' or 'slices' (not both)");
    body = m;
    prefix = ["modules", "default"];
  }
  let slices: Slice[];
  if (body.slices !== undefined) slices = readSlices(doc, body.slices, [...prefix, "slices"]);
  else if (body.models !== undefined) slices = [{ sources: readSources(doc, body.models, [...prefix, "models"], false), at: [...prefix, "models"] }];
  else throw doc.error([], "the config lists no models: add 'models:' (or 'slices:' for layer ranges)");
  return {
    method: root.merge_method,
    base,
    slices,
    sliced: body.slices !== undefined,
    params: paramBlock(doc, root.parameters, ["parameters"]),
    moduleParams: prefix.length ? paramBlock(doc, body.parameters, [...prefix, "parameters"]) : undefined,
    dtype: dtypeName(doc, root.dtype, "dtype"),
    dtypeName: typeof root.dtype === "string" ? root.dtype : undefined,
    outDtype: dtypeName(doc, root.out_dtype, "out_dtype"),
  };
}

/** The tokenizer and chat template settings: checked here (shape, types); translated by cli/mergekit.ts. */
function checkUnsupported(doc: YamlDoc, root: Record<string, unknown>): void {
  // tokenizer_source: base | union | MODEL, and tokenizer: {source, tokens, pad_to_multiple_of} run through align_vocab
  const ts = root.tokenizer_source;
  if (ts !== undefined && ts !== null && typeof ts !== "string") {
    throw doc.error(["tokenizer_source"], `tokenizer_source: expected base, union or a model path`);
  }
  if (root.tokenizer !== undefined && root.tokenizer !== null) {
    const t = root.tokenizer;
    if (ts !== undefined && ts !== null) throw doc.error(["tokenizer"], "give tokenizer: or tokenizer_source:, not both (as mergekit requires)", "key");
    if (!isRecord(t)) throw doc.error(["tokenizer"], "tokenizer: expected a block with source:, tokens: and pad_to_multiple_of:");
    for (const k of Object.keys(t)) {
      if (k !== "source" && k !== "pad_to_multiple_of" && k !== "tokens") throw doc.error(["tokenizer", k], `tokenizer: unknown key '${k}'${didYouMean(k, ["source", "tokens", "pad_to_multiple_of"])}`, "key");
    }
    if (t.source !== undefined && typeof t.source !== "string") throw doc.error(["tokenizer", "source"], "tokenizer: source: expected base, union or a model path");
    if (t.pad_to_multiple_of !== undefined && t.pad_to_multiple_of !== null && !(Number.isInteger(t.pad_to_multiple_of) && (t.pad_to_multiple_of as number) > 0)) {
      throw doc.error(["tokenizer", "pad_to_multiple_of"], "tokenizer: pad_to_multiple_of: expected a positive integer");
    }
    if (t.tokens !== undefined && t.tokens !== null) checkTokens(doc, t.tokens);
  }
  const ct = root.chat_template;
  if (ct !== undefined && ct !== null && typeof ct !== "string") {
    throw doc.error(["chat_template"], "chat_template: expected auto, a built-in template name (chatml, llama3, alpaca, mistral, exaone) or a Jinja template string");
  }
}

/** mergekit's TokenEmbeddingConfig per token: {source: MODEL | {kind: model_token, model, token | token_id} | {kind: zero}, force}. */
function checkTokens(doc: YamlDoc, tokens: unknown): void {
  const at: YamlPath = ["tokenizer", "tokens"];
  if (!isRecord(tokens)) throw doc.error(at, "tokenizer: tokens: expected a mapping of token → {source: ..., force: ...}");
  for (const [tok, cfg] of Object.entries(tokens)) {
    const here: YamlPath = [...at, tok];
    if (!isRecord(cfg)) throw doc.error(here, `token '${tok}': expected {source: ..., force: ...}`);
    for (const k of Object.keys(cfg)) if (k !== "source" && k !== "force") throw doc.error([...here, k], `token '${tok}': unknown key '${k}'${didYouMean(k, ["source", "force"])}`, "key");
    if (cfg.force !== undefined && typeof cfg.force !== "boolean") throw doc.error([...here, "force"], `token '${tok}': force: expected true or false`);
    const src = cfg.source;
    if (src === undefined || src === null) throw doc.error(here, `token '${tok}': needs a source: (a model, {kind: model_token, model: ..., token: ...} or {kind: zero}); mergekit cannot build it either`);
    if (typeof src === "string") continue;
    if (!isRecord(src)) throw doc.error([...here, "source"], `token '${tok}': source: expected a model path, {kind: model_token, ...} or {kind: zero}`);
    if (src.kind === "zero") {
      for (const k of Object.keys(src)) if (k !== "kind") throw doc.error([...here, "source", k], `token '${tok}': unknown key '${k}' in a zero source`, "key");
      continue;
    }
    if (src.kind !== "model_token") throw doc.error([...here, "source", ...(src.kind === undefined ? [] : ["kind"])], `token '${tok}': source kind: expected model_token or zero`);
    for (const k of Object.keys(src)) if (!["kind", "model", "token", "token_id"].includes(k)) throw doc.error([...here, "source", k], `token '${tok}': unknown key '${k}'${didYouMean(k, ["model", "token", "token_id"])}`, "key");
    if (typeof src.model !== "string") throw doc.error([...here, "source", ...(src.model === undefined ? [] : ["model"])], `token '${tok}': a model_token source needs model: (a model path)`);
    if ((src.token === undefined) === (src.token_id === undefined)) throw doc.error([...here, "source"], `token '${tok}': a model_token source needs exactly one of token: and token_id:`);
    if (src.token !== undefined && typeof src.token !== "string") throw doc.error([...here, "source", "token"], `token '${tok}': token: expected a string`);
    if (src.token_id !== undefined && !(Number.isInteger(src.token_id) && (src.token_id as number) >= 0)) throw doc.error([...here, "source", "token_id"], `token '${tok}': token_id: expected a non-negative integer`);
  }
}

export function modelPath(doc: YamlDoc, v: unknown, at: YamlPath): string {
  if (isRecord(v) && typeof v.model === "string") v = v.model; // {model: path}
  if (isRecord(v) && isRecord(v.model) && typeof v.model.path === "string" && Object.keys(v.model).length === 1 && v.lora === undefined) v = v.model.path;
  if (typeof v !== "string" || v.trim() === "") throw doc.error(at, "expected a model path (a directory or .safetensors file)");
  if (v.includes("+") && (v.split("+").length !== 2 || v.split("+").some((p) => p.trim() === ""))) {
    throw doc.error(at, `'${v}': expected MODEL+LORA (a model and a PEFT LoRA adapter, each a path or a Hub id)`);
  }
  return v;
}

function readSources(doc: YamlDoc, v: unknown, at: YamlPath, sliced: boolean): Source[] {
  if (!Array.isArray(v) || v.length === 0) throw doc.error(at, sliced ? "'sources' must be a non-empty list" : "'models' must be a non-empty list of '- model: PATH' entries");
  return v.map((entry, i) => {
    const here = [...at, i];
    if (typeof entry === "string") throw doc.error(here, `write '- model: ${entry}' (mergekit's form), not a bare path`);
    if (!isRecord(entry)) throw doc.error(here, "expected '- model: PATH' with optional 'parameters:'");
    const allowed = sliced ? ["model", "layer_range", "parameters"] : ["model", "parameters"];
    for (const k of Object.keys(entry)) {
      if (!allowed.includes(k)) {
        const hint = k === "layer_range" ? " (layer ranges belong in 'slices:' sources)" : didYouMean(k, allowed);
        throw doc.error([...here, k], `unknown key '${k}'${hint}`, "key");
      }
    }
    if (entry.model === undefined) throw doc.error(here, "each entry needs 'model: PATH'");
    const source: Source = { model: modelPath(doc, entry.model, [...here, "model"]), at: here, params: paramBlock(doc, entry.parameters, [...here, "parameters"]) };
    if (sliced) source.layerRange = layerRange(doc, entry.layer_range, [...here, "layer_range"]);
    return source;
  });
}

function readSlices(doc: YamlDoc, v: unknown, where: YamlPath = ["slices"]): Slice[] {
  if (!Array.isArray(v) || v.length === 0) throw doc.error(where, "'slices' must be a non-empty list of '- sources: [...]' entries");
  return v.map((s, i) => {
    const at = [...where, i];
    if (!isRecord(s)) throw doc.error(at, "expected '- sources:' with a list of '- model: PATH / layer_range: [START, END]'");
    const keys = ["sources", "parameters", "base_model", "residual_weight"];
    for (const k of Object.keys(s)) {
      if (!keys.includes(k)) throw doc.error([...at, k], `unknown key '${k}'${didYouMean(k, keys)}`, "key");
    }
    // residual_weight is in mergekit's schema but nothing reads it (config.py only): accepted, and it changes nothing
    if (s.residual_weight !== undefined && s.residual_weight !== null && !isNumber(s.residual_weight)) throw doc.error([...at, "residual_weight"], "residual_weight: expected a number");
    const sources = readSources(doc, s.sources, [...at, "sources"], true);
    const base = s.base_model === undefined || s.base_model === null ? undefined : modelPath(doc, s.base_model, [...at, "base_model"]);
    return { sources, params: paramBlock(doc, s.parameters, [...at, "parameters"]), at, base };
  });
}

function layerRange(doc: YamlDoc, v: unknown, at: YamlPath): [number, number] {
  if (v === undefined) throw doc.error(at.slice(0, -1), "each slice source needs 'layer_range: [START, END]'");
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0) || v[0] >= v[1]) {
    throw doc.error(at, "layer_range must be [START, END] with integers 0 <= START < END (END exclusive)");
  }
  return [v[0], v[1]];
}

function paramBlock(doc: YamlDoc, v: unknown, at: YamlPath): ParamBlock | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw doc.error(at, "'parameters' must be a mapping (name: value)");
  return { values: v, at };
}

/** mergekit dtype names → mergelab's save() dtypes. */
const DTYPES: Record<string, string> = {
  float32: "f32", fp32: "f32", float: "f32", f32: "f32",
  float16: "f16", fp16: "f16", half: "f16", f16: "f16",
  bfloat16: "bf16", bf16: "bf16",
};

function dtypeName(doc: YamlDoc, v: unknown, key: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const d = typeof v === "string" ? DTYPES[v.toLowerCase()] : undefined;
  if (!d) throw doc.error([key], `${key}: ${JSON.stringify(v)} is not a dtype mergelab writes (float32, float16 or bfloat16)`);
  return d;
}

/** Parse one parameter value into a Setting, or throw at its position. */
export function readSetting(doc: YamlDoc, v: unknown, at: YamlPath, name: string): Setting {
  if (isNumber(v) || typeof v === "boolean") return v;
  if (Array.isArray(v) && v.length > 0 && v.every(isNumber)) return v.length === 1 ? v[0] : { kind: "gradient", values: v };
  const entries = Array.isArray(v) ? v : isRecord(v) ? [v] : undefined;
  if (entries && entries.length > 0 && entries.every(isRecord)) {
    const out: Filtered = { kind: "filtered", entries: [] };
    entries.forEach((e, i) => {
      const here = Array.isArray(v) ? [...at, i] : at;
      for (const k of Object.keys(e)) if (k !== "filter" && k !== "value") throw doc.error([...here, k], `unknown key '${k}' in a filter entry (expected 'filter' and 'value')`, "key");
      const value = e.value;
      let parsed: number | Gradient;
      if (isNumber(value)) parsed = value;
      else if (Array.isArray(value) && value.length > 0 && value.every(isNumber)) parsed = value.length === 1 ? value[0] : { kind: "gradient", values: value };
      else throw doc.error(value === undefined ? here : [...here, "value"], `${name}: each entry needs 'value:' with a number or a list of numbers`);
      if (out.fallback !== undefined) return; // entries after an unfiltered one never match (first match wins)
      if (e.filter === undefined || e.filter === null) out.fallback = parsed;
      else if (typeof e.filter === "string" && e.filter !== "") out.entries.push({ filter: e.filter, value: parsed });
      else throw doc.error([...here, "filter"], `${name}: 'filter' must be a non-empty substring of tensor names`);
    });
    if (out.entries.length === 0 && out.fallback !== undefined) return out.fallback;
    return out;
  }
  throw doc.error(at, `${name}: expected a number, true/false, a list of numbers (a gradient over layers) or '- filter: …, value: …' entries`);
}
