/**
 * One language-model evaluation in a fresh process (run with `node --import tsx`), for bench/lm.bench.ts.
 * Prints one JSON line.
 *   lm-child.ts forward CKPT B T REPS    → {tokensPerS, seconds, backend}
 *   lm-child.ts rss MODE A B N T         → {maxRssMB, seconds, logprob}
 *     MODE streamed: 0.5·A + 0.5·B scored layer by layer; materialized: the same merge computed whole first
 */
import { backendName, initRuntime, tf } from "../core/runtime.js";
import { combine, loadModel, materialize, type ModelValue } from "../engine/index.js";
import { languageModel, LanguageModel, memoryWeights, scoreSequences } from "../stdlib/lm/index.js";

await initRuntime();

/** n sequences of t + 1 pseudo-random ids, every position scored (a perplexity-style batch). */
function requests(n: number, t: number, vocab: number) {
  let s = 12345;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % vocab;
  return Array.from({ length: n }, () => ({ tokens: Array.from({ length: t + 1 }, next), scored: t }));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "forward") {
  const ckpt = args[0];
  const [B, T, reps] = args.slice(1).map(Number);
  const model = loadModel(ckpt);
  const tensors = await materialize(model);
  const streamed = languageModel(model);
  const lm = new LanguageModel(streamed.config, memoryWeights(tensors), undefined, ckpt);
  const reqs = requests(B, T, lm.config.vocabSize);
  await scoreSequences(lm, reqs, { batchSize: B, headRows: B * T }); // warm-up
  const seconds: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await scoreSequences(lm, reqs, { batchSize: B, headRows: B * T });
    seconds.push((performance.now() - t0) / 1000);
  }
  console.log(JSON.stringify({ tokensPerS: (B * T) / Math.min(...seconds), seconds, backend: backendName() }));
} else if (cmd === "rss") {
  const [mode, a, b, n, t] = [args[0], args[1], args[2], Number(args[3]), Number(args[4])];
  const merged = combine("+", combine("*", loadModel(a), 0.5), combine("*", loadModel(b), 0.5)) as ModelValue;
  const t0 = performance.now();
  let lm = languageModel(merged);
  let tensors: Record<string, tf.Tensor> | undefined;
  if (mode === "materialized") {
    tensors = await materialize(merged);
    lm = new LanguageModel(lm.config, memoryWeights(tensors), undefined, "materialized");
  }
  const scores = await scoreSequences(lm, requests(n, t, lm.config.vocabSize), { batchSize: 8 });
  if (tensors) tf.dispose(Object.values(tensors));
  console.log(JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024, seconds: (performance.now() - t0) / 1000, logprob: scores.reduce((s, x) => s + x.logprob, 0) }));
}
