/**
 * The output's `config.json`: the source model's, with the facts a merge can change
 * set to what was written — the layer count after a stack of slices (transformers
 * builds `num_hidden_layers` / `n_layer` layers and silently ignores any others) and
 * `torch_dtype` (and `dtype`, its newer spelling, when present) to the dtype of the
 * weights written. Everything else is the source's, byte-for-byte in meaning.
 * mergekit does the same in merge.py `_model_out_config`. Per-layer lists
 * (`layer_types`, `no_rope_layers`) follow the layers written — mergekit leaves them
 * as they were, and transformers then refuses a config whose `layer_types` is not one
 * entry per layer.
 */
import { configField, EMBEDDING_TENSORS, isTied, TIED_PAIRS, type HfConfig } from "./hfconfig.js";

/** Architectures whose transformers config class ties the head by default (their saved config.json omits the flag). */
const TIED_BY_DEFAULT = new Set(["gemma", "gemma2", "gemma3", "gemma3_text", "gpt2", "opt", "bloom"]);

/** Config lists with one entry per layer (transformers validates `layer_types`' length against the layer count). */
const PER_LAYER_LISTS = ["layer_types", "no_rope_layers"];

/** safetensors dtype → transformers' torch_dtype name. */
const TORCH_DTYPE: Record<string, string> = { F32: "float32", F16: "float16", BF16: "bfloat16", F64: "float64" };

export interface OutputFacts {
  /** Layers of the written model (from its tensor names); undefined or 0: leave the count alone. */
  numLayers?: number;
  /** Output layer l is layer layerSources[l] of the source model (slices and stacks); per-layer lists follow it. */
  layerSources?: readonly number[];
  /** The float dtype every floating-point weight was written in; undefined when mixed or none. */
  dtype?: string;
  /** Names of the tensors written: tie_word_embeddings then says whether an output head was written. */
  tensorNames?: readonly string[];
  /** Shapes of the tensors written: vocab_size is then the rows of the embedding written. */
  tensorShapes?: Readonly<Record<string, readonly number[]>>;
}

/**
 * A copy of `cfg` with its layer count (under whichever key it uses: num_hidden_layers, n_layer,
 * num_layers, or text_config's) and torch_dtype set from `facts`. Keys the source lacks are not added,
 * except torch_dtype.
 */
export function outputHfConfig(cfg: HfConfig, facts: OutputFacts): HfConfig {
  const out = JSON.parse(JSON.stringify(cfg)) as HfConfig;
  if (facts.numLayers !== undefined && facts.numLayers > 0) {
    const found = configField(out, "num_hidden_layers");
    if (found && typeof found.value === "number") {
      const [head, key] = found.key.startsWith("text_config.") ? [out.text_config as HfConfig, found.key.slice("text_config.".length)] : [out, found.key];
      const before = found.value;
      head[key] = facts.numLayers;
      // one entry per layer of the source: entry l of the output's list is the source layer's entry
      const sources = facts.layerSources ?? Array.from({ length: facts.numLayers }, (_, l) => l);
      for (const list of PER_LAYER_LISTS) {
        const v = head[list];
        if (Array.isArray(v) && v.length === before && sources.length === facts.numLayers && sources.every((s) => s < v.length)) head[list] = sources.map((s) => v[s]);
      }
    }
  }
  const torchDtype = facts.dtype === undefined ? undefined : TORCH_DTYPE[facts.dtype];
  if (torchDtype) {
    out.torch_dtype = torchDtype;
    if ("dtype" in out && typeof out.dtype === "string") out.dtype = torchDtype;
  }
  if (facts.tensorShapes) {
    // vocab_size = the rows written (after align_vocab, or mergekit's common sub-matrix of differing vocabularies)
    const emb = EMBEDDING_TENSORS.map((n) => facts.tensorShapes![n]).find((s) => s !== undefined && s.length === 2);
    const found = configField(out, "vocab_size");
    if (emb && found && typeof found.value === "number" && found.value !== emb[0]) {
      const [head, key] = found.key.startsWith("text_config.") ? [out.text_config as HfConfig, found.key.slice("text_config.".length)] : [out, found.key];
      head[key] = emb[0];
    }
  }
  if (facts.tensorNames) {
    // tied or untied as written: a written head (lm_head.weight …) is the model's own; none: the embeddings serve
    const names = new Set(facts.tensorNames);
    const pair = TIED_PAIRS.find(([, embed]) => names.has(embed));
    // an explicit flag that disagrees with what was written, or no flag on an architecture whose transformers
    // default ties (a head written there would be ignored); an absent flag elsewhere is left as it is
    const explicit = typeof out.tie_word_embeddings === "boolean" || typeof (out.text_config as HfConfig | undefined)?.tie_word_embeddings === "boolean";
    const tiedByDefault = TIED_BY_DEFAULT.has(String(out.model_type));
    if (pair && names.has(pair[0]) === isTied(out) && (explicit || tiedByDefault)) {
      const tie = !names.has(pair[0]);
      out.tie_word_embeddings = tie;
      const tc = out.text_config as HfConfig | undefined;
      if (tc && typeof tc === "object" && "tie_word_embeddings" in tc) tc.tie_word_embeddings = tie;
    }
  }
  return out;
}

/** Every tensor name outputHfConfig looks at (embeddings and output heads): nothing else of a model's names matters to it. */
const CONFIG_TENSORS: readonly string[] = [...new Set([...EMBEDDING_TENSORS, ...TIED_PAIRS.flat()])];

/**
 * The shapes outputHfConfig reads (`tensorShapes`; their names are its `tensorNames`): those of the
 * embedding and head tensors among a model's, by lookup — a 100k-tensor model gives a handful of
 * entries, not a dictionary of 100k (issue #17).
 */
export function configShapes(shapeOf: (name: string) => readonly number[] | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = Object.create(null);
  for (const name of CONFIG_TENSORS) {
    const shape = shapeOf(name);
    if (shape !== undefined) out[name] = [...shape];
  }
  return out;
}

/** The one float dtype of a set of written tensors (non-float ones ignored), else undefined. */
export function writtenFloatDtype(dtypes: Iterable<string>): string | undefined {
  const floats = new Set([...dtypes].filter((d) => d in TORCH_DTYPE));
  return floats.size === 1 ? [...floats][0] : undefined;
}

/** config.json text as transformers writes it (2-space indent, sorted keys are not required). */
export function configText(cfg: HfConfig): string {
  return JSON.stringify(cfg, null, 2) + "\n";
}
