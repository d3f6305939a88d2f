/**
 * stdlib/lm: evaluate causal language models where you merge them. A model
 * argument may be a checkpoint or a lazy merge: the forward pass streams its
 * layers from the engine (one layer's weights in memory at a time), so a
 * merge is scored without being saved.
 *
 *   m = ties([code, chat], base=base, k=0.3)
 *   perplexity(m, "data/held_out.txt")                     # token perplexity, bits per byte
 *   loglik_choice(m, "data/quiz.jsonl")                    # acc, acc_norm (lm-evaluation-harness semantics)
 *   generate(m, "Once upon a time", max_tokens=20)         # greedy, with a KV cache
 *
 * Data files: docs/evaluation.md.
 */
export { specs } from "./specs.js";

export { parseConfig, SUPPORTED_MODEL_TYPES, type LmConfig } from "./config.js";
export { LanguageModel, languageModel, scoreSequences, forwardLogits, type ScoreRequest, type Score } from "./model.js";
export { perplexity, loglikChoice, loglikelihood, generate, encodePair, rollingWindows } from "./metrics.js";
export { loadTokenizer, TextTokenizer } from "./tokenizer.js";
export { streamModel, memoryWeights, type WeightSource } from "./weights.js";
export { readTexts, readChoiceItems } from "./data.js";
export { trainCausalLm, saveCausalLm, initialWeights, byteTokenizerJson, windowLoss, type TrainSpec } from "./train.js";
export { buildZoo, genreData, choiceItems, byteStream, cleanText, GENRES, DEFAULT_ZOO, type Zoo, type ZooSpec, type Genre } from "./zoo.js";
