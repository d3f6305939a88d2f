// mergekit's `tokenizer: tokens:` (per-token embedding rows, mergekit/tokenizer/embed.py) and `chat_template`
// (mergekit/merge.py _set_chat_template), in the language (align_vocab(tokens=...), save(chat_template=...))
// and from YAML, on checkpoints in Hugging Face layouts (tokenizer.json, tokenizer_config.json, config.json).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadModel, materializeArrays } from "../../engine/index.js";
import { alignVocab } from "../../engine/vocab.js";
import { openCheckpoint } from "../../io/index.js";
import { CHAT_TEMPLATES, renderChatTemplate, SAMPLE_CONVERSATION } from "../../io/chattemplate.js";
import { mergekitToScript } from "../../cli/mergekit.js";
import { repoRoot, runCli, tempDir } from "../helpers.js";
import { writeF32 } from "../io/peft-files.js";

const WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "<s>"];
const DIM = 3;
/** Row of token t in model m: recognisable, exactly representable values. */
const rowFor = (m: number, t: string) => [100 * m + t.length, m - t.charCodeAt(t.length - 1), t.charCodeAt(0)];
const mean = (xs: number[][]) => xs[0].map((_, j) => Math.fround(xs.reduce((s, x) => s + x[j], 0) / xs.length));

function model(root: string, name: string, m: number, extra: string[], tokenizerConfig: Record<string, unknown> = { bos_token: "<s>", eos_token: "<s>" }): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const tokens = [...WORDS, ...extra];
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const added = tokens.map((t, id) => ({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })).slice(6);
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: added, normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null, model: { type: "WordLevel", vocab, unk_token: "<unk>" } }));
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama", vocab_size: tokens.length, hidden_size: DIM }));
  writeF32(path.join(dir, "model.safetensors"), {
    "model.embed_tokens.weight": { shape: [tokens.length, DIM], data: new Float32Array(tokens.flatMap((t) => rowFor(m, t))) },
    "model.norm.weight": { shape: [DIM], data: new Float32Array(DIM).fill(m) },
  });
  return dir;
}

/** a (base): WORDS; b: + <tool>, <think>; c: + <tool>. */
function three(root: string, configs: Array<Record<string, unknown>> = []): void {
  model(root, "a", 0, [], configs[0]);
  model(root, "b", 1, ["<tool>", "<think>"], configs[1]);
  model(root, "c", 2, ["<tool>"], configs[2]);
}

function embeddings(dir: string, rows: number): number[][] {
  const e = openCheckpoint(dir).readF32("model.embed_tokens.weight", 0, rows * DIM);
  return Array.from({ length: rows }, (_, r) => [...e.subarray(r * DIM, r * DIM + DIM)]);
}

describe("align_vocab tokens=: mergekit's per-token sources", () => {
  const root = tempDir();
  three(root);
  const [a, b, c] = ["a", "b", "c"].map((n) => loadModel(path.join(root, n), { label: n }));
  const tokensFor = (m: number) => (m === 0 ? WORDS : m === 1 ? [...WORDS, "<tool>", "<think>"] : [...WORDS, "<tool>"]);

  it("model_token, a forced model row, a zero row, a token_id, and the defaults of embed.py", async () => {
    const { models, plan } = alignVocab([a, b, c], {
      base: 0,
      source: "union",
      padToMultipleOf: 4,
      tokens: {
        "<|im_start|>": { source: { kind: "model_token", model: 1, token: "<think>" } }, // new: b's row of <think>
        "<tool>": { source: { kind: "model", model: 2 }, force: true }, // every model: c's row of <tool>
        "<pad>": { source: { kind: "zero" } }, // new: zeros
        sat: { source: { kind: "model_token", model: 1, tokenId: 2 }, force: true }, // every model: b's row 2 (cat)
        mat: { source: { kind: "zero" } }, // not forced: every model has mat, so keeps its own row
      },
    });
    expect(plan.tokens).toEqual([...WORDS, "<tool>", "<think>", "<|im_start|>", "<pad>"]);
    expect(plan.rows).toBe(12);
    for (const [i, m] of models.entries()) {
      const out = await materializeArrays(m, { chunkSize: 5, workers: 0 });
      const e = out["model.embed_tokens.weight"].data as Float32Array;
      const row = (r: number) => [...e.subarray(r * DIM, r * DIM + DIM)];
      const has = (t: string) => tokensFor(i).includes(t);
      for (const t of ["the", "cat", "on", "mat", "<s>"]) expect(row(plan.tokens.indexOf(t)), `${i} ${t}`).toEqual(rowFor(i, t));
      expect(row(3), `${i} sat (forced b's token_id 2)`).toEqual(rowFor(1, "cat"));
      expect(row(7), `${i} <tool> (forced c's)`).toEqual(rowFor(2, "<tool>"));
      // <think>: only b has it, so a model lacking it gets b's row (embed.py: num_present == 1)
      expect(row(8), `${i} <think>`).toEqual(has("<think>") ? rowFor(i, "<think>") : rowFor(1, "<think>"));
      expect(row(9), `${i} <|im_start|>`).toEqual(rowFor(1, "<think>"));
      expect(row(10), `${i} <pad>`).toEqual([0, 0, 0]);
      // padding row: the mean of the vocabulary's rows of this model's matrix
      expect(row(11)).toEqual(mean(Array.from({ length: 11 }, (_, r) => row(r))));
    }
  });

  it("a token two non-base models share is their mean in the model lacking it (no override)", async () => {
    const { models, plan } = alignVocab([a, b, c], { base: 0, source: "union" });
    const out = await materializeArrays(models[0], { chunkSize: 4, workers: 0 });
    const e = out["model.embed_tokens.weight"].data as Float32Array;
    const r = plan.tokens.indexOf("<tool>");
    expect([...e.subarray(r * DIM, r * DIM + DIM)]).toEqual(mean([rowFor(1, "<tool>"), rowFor(2, "<tool>")]));
  });

  it("refuses a source token the model lacks, a token_id past its rows, a model-row source lacking the token", () => {
    expect(() => alignVocab([a, b], { base: 0, source: "union", tokens: { x: { source: { kind: "model_token", model: 0, token: "<think>" } } } })).toThrow(/tokens: 'x': token "<think>" is not in a's vocabulary/);
    expect(() => alignVocab([a, b], { base: 0, source: "union", tokens: { x: { source: { kind: "model_token", model: 1, tokenId: 9 } } } })).toThrow(/token id 9 is out of range for b \(9 rows\)/);
    expect(() => alignVocab([a, b], { base: 0, source: "union", tokens: { "<think>": { source: { kind: "model", model: 0 } } } })).toThrow(/tokens: '<think>' is not in a's vocabulary/);
  });

  it("in a script: tokens= and chat_template=; the saved tokenizer encodes the new token to its row, the template renders", () => {
    const dir = tempDir();
    three(dir);
    fs.writeFileSync(
      path.join(dir, "v.mlab"),
      'a = load("a")\nb = load("b")\nc = load("c")\n' +
        'abc = align_vocab([a, b, c], base=a, tokens={"<|im_start|>": {source: b, token: "<think>"}, "<|im_end|>": {source: "zero"}, "<tool>": {source: c, force: true}})\n' +
        'save(average(abc), "out", dtype="f32", chat_template="chatml")\n',
    );
    const r = runCli(["run", "v.mlab", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = path.join(dir, "out");
    const tcfg = JSON.parse(fs.readFileSync(path.join(out, "tokenizer_config.json"), "utf8"));
    const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(out, "tokenizer.json"), "utf8")), tcfg);
    expect(tok.encode("the <|im_start|> cat <|im_end|>").ids).toEqual([1, 9, 2, 10]);
    const e = embeddings(out, 11);
    expect(e[9]).toEqual(rowFor(1, "<think>")); // every model: b's <think> row; their average is that row
    expect(e[10]).toEqual([0, 0, 0]);
    expect(e[7]).toEqual(rowFor(2, "<tool>"));
    // "cat": all three have it: the average of their own rows
    expect(e[2]).toEqual(mean([0, 1, 2].map((m) => rowFor(m, "cat"))));
    expect(tcfg.bos_token).toBe("<s>"); // the base's settings kept
    expect(new Template(tcfg.chat_template).render({ messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }], add_generation_prompt: false }))
      .toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n");
  });

  it("errors point at the argument: an unknown source token, a bad template", () => {
    const dir = tempDir();
    three(dir);
    fs.writeFileSync(path.join(dir, "t.mlab"), 'a = load("a")\nb = load("b")\nab = align_vocab([a, b], tokens={"<q>": {source: b, token: "<nope>"}})\nsave(average(ab), "out")\n');
    let r = runCli(["check", "t.mlab"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^t\.mlab:3:\d+: error: tokens: '<q>': token "<nope>" is not in b's vocabulary/);
    fs.writeFileSync(path.join(dir, "u.mlab"), 'a = load("a")\nsave(a, "out", chat_template="{% for m in messages %}{{ m.content }")\n');
    r = runCli(["check", "u.mlab"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^u\.mlab:2:16: error: chat_template: not a valid Jinja template/);
    fs.writeFileSync(path.join(dir, "w.mlab"), 'a = load("a")\nsave(a, "out", chat_template="vicuna")\n');
    r = runCli(["check", "w.mlab"], { cwd: dir });
    expect(r.stderr).toMatch(/^w\.mlab:2:16: error: chat_template "vicuna": not a built-in template \(chatml, llama3, alpaca, mistral, exaone, or auto\)/);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });
});

describe("chat templates", () => {
  // each format written out by hand from its documentation, for one conversation
  const convo = [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }, { role: "user", content: "2+2?" }];
  const withSystem = [{ role: "system", content: "Be brief." }, ...convo];
  it.each([
    ["chatml", withSystem, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"],
    ["llama3", withSystem, "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"],
    ["alpaca", withSystem, "Be brief.\n\n### Instruction:\nHi\n\n### Response:\nHello!\n\n### Instruction:\n2+2?\n\n### Response:\n"],
    ["mistral", withSystem, "<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST] 2+2? [/INST]"],
    ["exaone", convo, "[|system|][|endofturn|]\n[|user|]Hi\n[|assistant|]Hello![|endofturn|]\n[|user|]2+2?\n[|assistant|]"],
  ])("%s renders the format", (name, messages, expected) => {
    expect(renderChatTemplate(CHAT_TEMPLATES[name], messages, { add_generation_prompt: true })).toBe(expected);
  });

  it("mistral refuses roles that do not alternate, as the format requires", () => {
    expect(() => renderChatTemplate(CHAT_TEMPLATES.mistral, [{ role: "user", content: "a" }, { role: "user", content: "b" }])).toThrow(/roles must alternate/);
  });

  it("auto: the most common template among the inputs (stripped), written over a copied chat_template.jinja", () => {
    const dir = tempDir();
    const t1 = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}";
    const t2 = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
    three(dir, [{ chat_template: t2 }, { chat_template: `${t1}\n` }, { chat_template: t1 }]);
    fs.writeFileSync(path.join(dir, "a", "chat_template.jinja"), t2); // transformers prefers this file: it must not keep t2
    fs.writeFileSync(path.join(dir, "s.mlab"), 'a = load("a")\nb = load("b")\nc = load("c")\nsave(average(align_vocab([a, b, c], base=a, source="base")), "out", chat_template="auto")\n');
    const r = runCli(["run", "s.mlab", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    const tcfg = JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8"));
    expect(tcfg.chat_template).toBe(t1.trim());
    expect(fs.readFileSync(path.join(dir, "out", "chat_template.jinja"), "utf8")).toBe(t1.trim());
    expect(renderChatTemplate(tcfg.chat_template, SAMPLE_CONVERSATION.slice(1, 3))).toBe("[user] Hi\n[assistant] Hello!\n");
  });

  it("auto with no input template keeps the output's own (mergekit returns without setting one)", () => {
    const dir = tempDir();
    model(dir, "a", 0, [], { bos_token: "<s>" });
    fs.writeFileSync(path.join(dir, "s.mlab"), 'save(load("a"), "out", chat_template="auto")\n');
    expect(runCli(["run", "s.mlab", "--quiet"], { cwd: dir }).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8"))).toEqual({ bos_token: "<s>" });
  });
});

describe("mergekit YAML: tokenizer: tokens: and chat_template", () => {
  // after mergekit's README "Tokenizer Configuration" / "Chat Template Configuration" examples
  const config = [
    "models:", "  - model: a", "    parameters: {weight: 1}", "  - model: b", "    parameters: {weight: 1}", "  - model: c", "    parameters: {weight: 1}",
    "merge_method: linear", "base_model: a", "dtype: float32",
    "tokenizer:", "  source: union", "  tokens:",
    "    <|im_start|>:", "      source:", "        kind: model_token", "        model: b", "        token: <think>",
    "    <|im_end|>:", "      source:", "        kind: zero",
    "    <tool>:", "      source: c", "      force: true",
    "chat_template: chatml", "",
  ].join("\n");

  it("translates to align_vocab(tokens=...) and save(chat_template=...)", () => {
    const script = mergekitToScript(config, { file: "config.yml" });
    expect(script).toContain('aligned = align_vocab([base, b, c], base=base, source="union", tokens={"<|im_start|>": {source: b, token: "<think>"}, "<|im_end|>": {source: "zero"}, "<tool>": {source: c, force: true}})');
    expect(script).toMatch(/save\(merged, "merged", dtype="f32", chat_template="chatml"\)/);
    // the deliberate differences are printed as comments
    expect(script).toContain("# tokens: kind: zero gives zero rows (mergekit's README); mergekit's own code at a6e4028 fails on it");
    expect(mergekitToScript(config.replace("chatml", "llama3"), { file: "config.yml" })).toContain("# chat_template: llama3: mergelab's template follows the published format");
    expect(mergekitToScript(config.replace("chatml", `"{{ messages[0]['content'] }}\\n"`), { file: "config.yml" })).toContain(`chat_template="{{ messages[0]['content'] }}\\u000a")`);
  });

  it("runs: rows as mergekit's embed.py assigns them, chatml in tokenizer_config.json; from-mergekit's script gives the same rows and tokenizer files", () => {
    const dir = tempDir();
    three(dir);
    fs.writeFileSync(path.join(dir, "config.yml"), config);
    const r = runCli(["run", "config.yml", "out", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const e = embeddings(path.join(dir, "out"), 11);
    expect(e[9]).toEqual(rowFor(1, "<think>"));
    expect(e[10]).toEqual([0, 0, 0]);
    expect(e[7]).toEqual(rowFor(2, "<tool>"));
    // <think>: only b has it → a and c take b's row; the linear merge of three equal rows is that row
    expect(e[8]).toEqual(rowFor(1, "<think>"));
    expect(e[2]).toEqual(mean([0, 1, 2].map((m) => rowFor(m, "cat"))));
    const tcfg = JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8"));
    expect(tcfg.chat_template).toBe(CHAT_TEMPLATES.chatml);
    const script = runCli(["from-mergekit", "config.yml", "out2"], { cwd: dir });
    expect(script.code).toBe(0);
    fs.writeFileSync(path.join(dir, "t.mlab"), script.stdout);
    expect(runCli(["run", "t.mlab", "--quiet"], { cwd: dir }).code).toBe(0);
    expect(embeddings(path.join(dir, "out2"), 11)).toEqual(e);
    expect(fs.readFileSync(path.join(dir, "out2", "tokenizer_config.json"), "utf8")).toBe(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8"));
  });

  it("mergekit-multi: a named merge kept in memory says its chat_template is written nowhere; the final merge's is saved", () => {
    const multi = "name: mid\nmerge_method: linear\nmodels:\n  - model: a\n  - model: b\nparameters: {weight: 1}\nchat_template: llama3\n---\nmerge_method: linear\nmodels:\n  - model: mid\n  - model: c\nparameters: {weight: 1}\nchat_template: chatml\n";
    const script = mergekitToScript(multi, { file: "multi.yml" });
    expect(script).toContain("# chat_template: this merge is passed on in memory and not saved, so its template is written nowhere");
    expect(script).toMatch(/save\(merged, "merged", chat_template="chatml"\)/);
  });

  it("a literal template (mergekit's test_template_literal_jinja, with a newline and quotes) is written as given", () => {
    const dir = tempDir();
    three(dir);
    const literal = "{% for m in messages %}\"{{ m['content'] }}\"\n{% endfor %}";
    fs.writeFileSync(path.join(dir, "config.yml"), config.replace("chat_template: chatml", `chat_template: ${JSON.stringify(literal)}`));
    const r = runCli(["run", "config.yml", "out", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    const t = JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8")).chat_template;
    expect(t).toBe(literal);
    expect(renderChatTemplate(t, [{ role: "user", content: "Hi" }, { role: "assistant", content: "Yo" }])).toBe('"Hi"\n"Yo"\n');
  });

  it.each([
    ["a source token the model lacks", (c: string) => c.replace("token: <think>", "token: <nope>"), /^config\.yml:18:16: error: token '<nope>' is not in b's vocabulary/],
    ["a token_id past the rows", (c: string) => c.replace("token: <think>", "token_id: 99"), /^config\.yml:18:19: error: token_id 99 is out of range for b \(9 rows\)/],
    ["a model row the model lacks", (c: string) => c.replace("source: c\n", "source: a\n"), /^config\.yml:23:15: error: token '<tool>' is not in a's vocabulary/],
    ["a token source not merged", (c: string) => c.replace("model: b\n        token", "model: d\n        token"), /^config\.yml:17:16: error: token source 'd' is not one of the merged models/],
    ["token and token_id both", (c: string) => c.replace("token: <think>", "token: <think>\n        token_id: 3"), /^config\.yml:15:7: error: token '<\|im_start\|>': a model_token source needs exactly one of token: and token_id:/],
    ["an unknown kind", (c: string) => c.replace("kind: zero", "kind: mean"), /^config\.yml:21:15: error: token '<\|im_end\|>': source kind: expected model_token or zero/],
    ["a template that does not parse", (c: string) => c.replace("chat_template: chatml", 'chat_template: "{% for m in messages %}{{ m.content }}"'), /^config\.yml:25:16: error: chat_template: not a valid Jinja template/],
    ["an unknown template name", (c: string) => c.replace("chat_template: chatml", "chat_template: vicuna"), /^config\.yml:25:16: error: chat_template "vicuna": not a built-in template/],
  ])("%s: an error at its YAML line, before any tensor data", (_, edit, expected) => {
    const dir = tempDir();
    three(dir);
    fs.writeFileSync(path.join(dir, "config.yml"), edit(config));
    const r = runCli(["run", "config.yml", "out"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(dir, "out"))).toBe(false);
  });
});

describe("docs/huggingface.md: the mergekit config of 'In mergekit configs', as written", () => {
  it("runs: the chosen rows and chatml", () => {
    const doc = fs.readFileSync(path.join(repoRoot, "docs/huggingface.md"), "utf8");
    const yaml = /## In mergekit configs[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)![1];
    const dir = tempDir();
    model(path.join(dir, "models"), "a", 0, []);
    model(path.join(dir, "models"), "b", 1, ["<tool>", "<think>"]);
    fs.writeFileSync(path.join(dir, "config.yml"), yaml);
    const r = runCli(["run", "config.yml", "out", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const e = embeddings(path.join(dir, "out"), 10);
    expect(e[7]).toEqual(rowFor(1, "<tool>"));
    expect(e[9]).toEqual(rowFor(1, "<think>")); // <|im_start|>: b's <think> row in both models
    expect(e[1]).toEqual(mean([rowFor(0, "the"), rowFor(1, "the")]));
    expect(JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8")).chat_template).toBe(CHAT_TEMPLATES.chatml);
  });
});

// tests/mergekit/reference/embed_ref.py: mergekit's own tokenizer/embed.py (PermutedEmbeddings.execute, imported
// unmodified from the commit recorded in the file) gave these rows; build.py's vocabulary is emulated there.
describe("against mergekit's embed.py (tests/mergekit/reference/data/tokenizer-embed.json)", () => {
  interface Scenario {
    name: string;
    models: Record<string, { tokens: string[]; rows: number[][] }>;
    base: string | null;
    tokens: Record<string, { source: string | { kind: string; model?: string; token?: string; token_id?: number }; force?: boolean }> | null;
    pad_to_multiple_of: number | null;
    vocab?: string[];
    rows?: Record<string, number[][]>;
    error?: string;
  }
  const ref = JSON.parse(fs.readFileSync(path.join(repoRoot, "tests/mergekit/reference/data/tokenizer-embed.json"), "utf8")) as { mergekit_commit: string; scenarios: Scenario[] };

  function build(s: Scenario): { dir: string; names: string[] } {
    const dir = tempDir();
    const names = Object.keys(s.models);
    for (const n of names) {
      const { tokens, rows } = s.models[n];
      const sub = path.join(dir, n);
      fs.mkdirSync(sub);
      const added = tokens.map((t, id) => ({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })).slice(6);
      fs.writeFileSync(path.join(sub, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: added, normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null, model: { type: "WordLevel", vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), unk_token: "<unk>" } }));
      fs.writeFileSync(path.join(sub, "config.json"), JSON.stringify({ model_type: "llama", vocab_size: tokens.length, hidden_size: DIM }));
      writeF32(path.join(sub, "model.safetensors"), { "model.embed_tokens.weight": { shape: [tokens.length, DIM], data: new Float32Array(rows.flat()) } });
    }
    return { dir, names };
  }

  it("records the mergekit commit", () => expect(ref.mergekit_commit).toMatch(/^[0-9a-f]{40}$/));

  it.each(ref.scenarios.filter((s) => !s.error).map((s) => [s.name, s] as const))("%s: every model's rows, by token string", async (_, s) => {
    const { dir, names } = build(s);
    const models = names.map((n) => loadModel(path.join(dir, n), { label: n }));
    const idx = (n: string) => names.indexOf(n);
    const tokens = s.tokens
      ? Object.fromEntries(Object.entries(s.tokens).map(([t, c]) => {
          const src = c.source;
          const source = typeof src === "string" ? { kind: "model" as const, model: idx(src) }
            : src.kind === "zero" ? { kind: "zero" as const }
            : { kind: "model_token" as const, model: idx(src.model!), token: src.token, tokenId: src.token_id };
          return [t, { source, force: c.force ?? false }];
        }))
      : undefined;
    const { models: aligned, plan } = alignVocab(models, { base: s.base === null ? undefined : idx(s.base), source: "union", tokens, padToMultipleOf: s.pad_to_multiple_of ?? undefined });
    expect(plan.tokens).toEqual(s.vocab);
    for (const [i, m] of aligned.entries()) {
      const want = s.rows![names[i]];
      expect(plan.rows).toBe(want.length);
      const e = (await materializeArrays(m, { chunkSize: 4, workers: 0 }))["model.embed_tokens.weight"].data as Float32Array;
      want.forEach((row, r) => expect([...e.subarray(r * DIM, r * DIM + DIM)], `${names[i]} row ${r} (${plan.tokens[r] ?? "pad"})`).toEqual(row));
    }
  });

  it("the scenario through a mergekit config: the linear merge of mergekit's re-indexed rows", () => {
    const s = ref.scenarios[0];
    const { dir } = build(s);
    const yaml = [
      "models:", ...Object.keys(s.models).map((n) => `  - model: ${n}\n    parameters: {weight: 1}`),
      `merge_method: linear`, `base_model: ${s.base}`, "dtype: float32",
      "tokenizer:", "  source: union", `  pad_to_multiple_of: ${s.pad_to_multiple_of}`, "  tokens:",
      ...Object.entries(s.tokens!).map(([t, c]) => `    ${JSON.stringify(t)}:\n      source: ${JSON.stringify(c.source)}${c.force ? "\n      force: true" : ""}`),
      "",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "config.yml"), yaml);
    const r = runCli(["run", "config.yml", "out", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    const rows = s.rows!;
    const got = embeddings(path.join(dir, "out"), rows.a.length);
    got.forEach((row, k) => row.forEach((x, j) => {
      const want = (rows.a[k][j] + rows.b[k][j] + rows.c[k][j]) / 3;
      expect(Math.abs(x - want), `row ${k}`).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23);
    }));
  });

  it("a zero source: mergekit's code fails (recorded), mergelab writes the zeros its README describes", async () => {
    const s = ref.scenarios.find((x) => x.error)!;
    expect(s.error).toMatch(/UnboundLocalError/);
    const { dir, names } = build(s);
    const models = names.map((n) => loadModel(path.join(dir, n), { label: n }));
    const { models: aligned, plan } = alignVocab(models, { base: 0, source: "union", tokens: { "<pad>": { source: { kind: "zero" } } } });
    const r = plan.tokens.indexOf("<pad>");
    for (const m of aligned) {
      const e = (await materializeArrays(m, { chunkSize: 4, workers: 0 }))["model.embed_tokens.weight"].data as Float32Array;
      expect([...e.subarray(r * DIM, r * DIM + DIM)]).toEqual([0, 0, 0]);
    }
  });
});
