/**
 * Chat templates of a merged model's tokenizer (mergekit's `chat_template`, mergekit/merge.py
 * `_set_chat_template`): a built-in name (`chatml`, `llama3`, `alpaca`, `mistral`, `exaone`), `auto`
 * (the most common template among the input models, stripped; none: the output keeps its own), or a
 * literal Jinja template. The template goes into the output's tokenizer_config.json (`chat_template`,
 * as transformers' save_pretrained writes it) and over a copied chat_template.jinja / chat_template.json,
 * which transformers would otherwise prefer. Templates are parsed and rendered on a sample conversation
 * with @huggingface/jinja (the Hub's own renderer) before anything is written.
 *
 * The built-in templates are mergelab's, written from each chat format (not copies of mergekit's
 * files): chatml and mistral render exactly as mergekit's files; llama3, alpaca and exaone follow the
 * published formats where mergekit's files add newlines or indentation (docs/huggingface.md).
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { MergelabError } from "../core/errors.js";

export const CHAT_TEMPLATES: Readonly<Record<string, string>> = {
  // <|im_start|>role\ncontent<|im_end|>\n …, then <|im_start|>assistant\n to prompt a reply
  chatml:
    "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}",
  // <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> …
  llama3:
    "{{- bos_token }}{%- for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
    "{%- if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
  // the last system message, then ### Instruction: / ### Input: / ### Response: sections separated by a blank line
  alpaca:
    "{%- set system = messages | selectattr('role', 'equalto', 'system') | list %}" +
    "{%- if system %}{{ system[-1]['content'] | trim + '\\n\\n' }}{%- endif %}" +
    "{%- for message in messages if message['role'] != 'system' %}" +
    "{%- if message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] | trim }}" +
    "{%- elif message['role'] == 'user_context' %}{{ '### Input:\\n' + message['content'] | trim }}" +
    "{%- elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] | trim }}{%- endif %}" +
    "{%- if not loop.last %}{{ '\\n\\n' }}{%- endif %}{%- endfor %}" +
    "{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{ '\\n\\n### Response:\\n' }}{%- endif %}",
  // <s> [INST] (system\n\n)user [/INST] assistant</s> …, roles alternating after an optional system message
  mistral:
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}{%- set turns = messages[1:] %}{%- else %}{%- set turns = messages %}{%- endif %}" +
    "{{- bos_token }}{%- for message in turns %}" +
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('mistral chat template: after an optional system message, roles must alternate user/assistant') }}{%- endif %}" +
    "{%- if message['role'] == 'user' %}{{ ' [INST] ' + (system + '\\n\\n' if loop.first and system is defined else '') + message['content'] + ' [/INST]' }}" +
    "{%- elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}" +
    "{%- else %}{{- raise_exception('mistral chat template: only user and assistant roles, after an optional system message') }}{%- endif %}{%- endfor %}",
  // [|system|]…[|endofturn|]\n[|user|]…\n[|assistant|]…[|endofturn|]\n (an empty system turn when none is given)
  exaone:
    "{%- for message in messages %}{%- if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\\n' }}{%- endif %}" +
    "{{ '[|' + message['role'] + '|]' + message['content'] + ('\\n' if message['role'] == 'user' else '[|endofturn|]\\n') }}{%- endfor %}" +
    "{%- if add_generation_prompt %}{{ '[|assistant|]' }}{%- endif %}",
};

type Jinja = typeof import("@huggingface/jinja");
let jinja: Jinja | undefined;
// loaded on first use (its CommonJS build, synchronously): checks stay synchronous, startup stays light
const Jinja = (): Jinja => (jinja ??= createRequire(import.meta.url)("@huggingface/jinja") as Jinja);

export interface ChatMessage {
  role: string;
  content: string;
}

/** A template rendered as transformers' apply_chat_template renders it. */
export function renderChatTemplate(template: string, messages: ChatMessage[], vars: Record<string, unknown> = {}): string {
  const t = new (Jinja().Template)(template);
  return t.render({ messages, bos_token: "<s>", eos_token: "</s>", add_generation_prompt: false, ...vars });
}

/** The conversation a template must render at check time (system, user, assistant, user). */
export const SAMPLE_CONVERSATION: ChatMessage[] = [
  { role: "system", content: "You are helpful." },
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello!" },
  { role: "user", content: "What is 2+2?" },
];

/** Parse the template and render the sample conversation; a message saying what is wrong, else undefined. */
export function chatTemplateProblem(template: string): string | undefined {
  try {
    new (Jinja().Template)(template);
  } catch (e) {
    return `not a valid Jinja template: ${(e as Error).message}`;
  }
  const problems: string[] = [];
  // a template may refuse a system message (raise_exception): it must render one of these conversations
  for (const messages of [SAMPLE_CONVERSATION, SAMPLE_CONVERSATION.slice(1)]) {
    try {
      renderChatTemplate(template, messages, { add_generation_prompt: true });
      return undefined;
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return `the template fails to render a sample conversation: ${problems[problems.length - 1]}`;
}

/** A checkpoint directory's own template: chat_template.jinja, else tokenizer_config.json's (a named list: "default"). */
export function chatTemplateOf(dir: string): string | undefined {
  const jinjaFile = path.join(dir, "chat_template.jinja");
  if (fs.existsSync(jinjaFile)) return fs.readFileSync(jinjaFile, "utf8");
  const cfgFile = path.join(dir, "tokenizer_config.json");
  if (!fs.existsSync(cfgFile)) return undefined;
  let cfg: unknown;
  try {
    cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  } catch {
    return undefined;
  }
  const t = (cfg as { chat_template?: unknown } | null)?.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const d = t.find((x) => (x as { name?: unknown })?.name === "default") as { template?: unknown } | undefined;
    return typeof d?.template === "string" ? d.template : undefined;
  }
  if (t && typeof t === "object") {
    const d = (t as Record<string, unknown>).default;
    return typeof d === "string" ? d : undefined;
  }
  return undefined;
}

/**
 * The template `spec` names (mergekit's rules): a built-in name, `auto` over `inputDirs` (the most
 * common stripped template; ties go to the first in input order — mergekit's order there is a set's;
 * undefined when no input has one), or a literal template (at least 20 characters with a `{`, as mergekit
 * requires). Throws a MergelabError (param chat_template) for anything else or a template that does not
 * parse and render.
 */
export function resolveChatTemplate(spec: string, inputDirs: readonly string[]): string | undefined {
  let template: string | undefined;
  if (spec === "auto") {
    const counts = new Map<string, number>();
    for (const d of inputDirs) {
      const t = chatTemplateOf(d)?.trim();
      if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    let best = 0;
    for (const [t, n] of counts) if (n > best) [template, best] = [t, n];
    if (template === undefined) return undefined;
  } else if (Object.hasOwn(CHAT_TEMPLATES, spec)) {
    template = CHAT_TEMPLATES[spec];
  } else if (spec.length < 20 || !spec.includes("{")) {
    throw new MergelabError(`chat_template ${JSON.stringify(spec)}: not a built-in template (${Object.keys(CHAT_TEMPLATES).join(", ")}, or auto) nor a Jinja template`, { param: "chat_template" });
  } else {
    template = spec;
  }
  const problem = chatTemplateProblem(template);
  if (problem) throw new MergelabError(`chat_template${spec === template ? "" : ` ${JSON.stringify(spec)}`}: ${problem}`, { param: "chat_template" });
  return template;
}

/**
 * The files an output writes to carry `template`: tokenizer_config.json (`configText`: the output's own,
 * aligned or copied) with its chat_template set, and a copied chat_template.jinja / chat_template.json
 * replaced (`copied`: the names of the files the output copies).
 */
export function chatTemplateFiles(template: string, configText: string | undefined, copied: readonly string[]): Record<string, string> {
  let cfg: Record<string, unknown> = {};
  if (configText !== undefined) {
    try {
      const v = JSON.parse(configText) as unknown;
      if (v && typeof v === "object" && !Array.isArray(v)) cfg = v as Record<string, unknown>;
    } catch {
      // an unreadable tokenizer_config.json is replaced
    }
  }
  const files: Record<string, string> = { "tokenizer_config.json": JSON.stringify({ ...cfg, chat_template: template }, null, 2) + "\n" };
  if (copied.includes("chat_template.jinja")) files["chat_template.jinja"] = template;
  if (copied.includes("chat_template.json")) files["chat_template.json"] = JSON.stringify({ chat_template: template }, null, 2) + "\n";
  return files;
}
