#!/usr/bin/env python3
"""Tiny synthetic checkpoints in real Hugging Face layouts, for the mergekit conformance suite.

Independent of mergelab and of mergekit: numpy only, with its own safetensors writer. Deterministic:
the same bytes on every run and machine (numpy's legacy RandomState, fixed seeds, explicit
little-endian dtypes, bf16 by round-to-nearest-even from float32).

    python3 gen_checkpoints.py OUT_DIR

writes OUT_DIR/<arch>-<role>[-bf16]/{config.json, model.safetensors} for
  arch  in llama, mistral, qwen2 (decoder layouts, untied lm_head), gpt2 (GPT2LMHeadModel layout,
        lm_head tied: not in the file), bert (BertModel layout: encoder.layer.N., pooler)
  role  in base, a, b, c (a/b/c = base + a small random task vector)
plus llama-*-bf16 copies in bfloat16 (ties at trim thresholds are common there) and llama-8l-*
(8 layers) for frankenmerge stacks.
"""
import json
import os
import struct
import sys

import numpy as np

HIDDEN = 8
INTER = 16
VOCAB = 32
HEADS = 2
KV_HEADS = 1
HEAD_DIM = HIDDEN // HEADS
LAYERS = 4
MAX_POS = 16


def bf16_bytes(a):
    """float32 → bfloat16 bytes, round to nearest even (NaN-free inputs)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def write_safetensors(path, tensors, dtype):
    """tensors: list of (name, float32 array). dtype: "F32" | "BF16" | "F16"."""
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors:
        if dtype == "F32":
            raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        elif dtype == "F16":
            raw = np.ascontiguousarray(arr, dtype="<f2").tobytes()
        else:
            raw = bf16_bytes(arr)
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def decoder_shapes(layers, qkv_bias):
    kv = KV_HEADS * HEAD_DIM
    out = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (HIDDEN,)),
            (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.k_proj.weight", (kv, HIDDEN)),
            (p + "self_attn.v_proj.weight", (kv, HIDDEN)),
            (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
            (p + "post_attention_layernorm.weight", (HIDDEN,)),
            (p + "mlp.gate_proj.weight", (INTER, HIDDEN)),
            (p + "mlp.up_proj.weight", (INTER, HIDDEN)),
            (p + "mlp.down_proj.weight", (HIDDEN, INTER)),
        ]
        if qkv_bias:
            out += [(p + "self_attn.q_proj.bias", (HIDDEN,)), (p + "self_attn.k_proj.bias", (kv,)), (p + "self_attn.v_proj.bias", (kv,))]
    out += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return out


def gpt2_shapes(layers):
    out = [("transformer.wte.weight", (VOCAB, HIDDEN)), ("transformer.wpe.weight", (MAX_POS, HIDDEN))]
    for i in range(layers):
        p = f"transformer.h.{i}."
        out += [
            (p + "ln_1.weight", (HIDDEN,)), (p + "ln_1.bias", (HIDDEN,)),
            (p + "attn.c_attn.weight", (HIDDEN, 3 * HIDDEN)), (p + "attn.c_attn.bias", (3 * HIDDEN,)),
            (p + "attn.c_proj.weight", (HIDDEN, HIDDEN)), (p + "attn.c_proj.bias", (HIDDEN,)),
            (p + "ln_2.weight", (HIDDEN,)), (p + "ln_2.bias", (HIDDEN,)),
            (p + "mlp.c_fc.weight", (HIDDEN, INTER)), (p + "mlp.c_fc.bias", (INTER,)),
            (p + "mlp.c_proj.weight", (INTER, HIDDEN)), (p + "mlp.c_proj.bias", (HIDDEN,)),
        ]
    out += [("transformer.ln_f.weight", (HIDDEN,)), ("transformer.ln_f.bias", (HIDDEN,))]
    return out


def bert_shapes(layers):
    out = [
        ("embeddings.word_embeddings.weight", (VOCAB, HIDDEN)),
        ("embeddings.position_embeddings.weight", (MAX_POS, HIDDEN)),
        ("embeddings.token_type_embeddings.weight", (2, HIDDEN)),
        ("embeddings.LayerNorm.weight", (HIDDEN,)), ("embeddings.LayerNorm.bias", (HIDDEN,)),
    ]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for m in ("query", "key", "value"):
            out += [(p + f"attention.self.{m}.weight", (HIDDEN, HIDDEN)), (p + f"attention.self.{m}.bias", (HIDDEN,))]
        out += [
            (p + "attention.output.dense.weight", (HIDDEN, HIDDEN)), (p + "attention.output.dense.bias", (HIDDEN,)),
            (p + "attention.output.LayerNorm.weight", (HIDDEN,)), (p + "attention.output.LayerNorm.bias", (HIDDEN,)),
            (p + "intermediate.dense.weight", (INTER, HIDDEN)), (p + "intermediate.dense.bias", (INTER,)),
            (p + "output.dense.weight", (HIDDEN, INTER)), (p + "output.dense.bias", (HIDDEN,)),
            (p + "output.LayerNorm.weight", (HIDDEN,)), (p + "output.LayerNorm.bias", (HIDDEN,)),
        ]
    out += [("pooler.dense.weight", (HIDDEN, HIDDEN)), ("pooler.dense.bias", (HIDDEN,))]
    return out


def config_for(arch, layers, dtype):
    torch_dtype = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype]
    if arch in ("llama", "mistral", "qwen2"):
        cls = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[arch]
        return {
            "architectures": [cls], "model_type": arch, "hidden_size": HIDDEN, "intermediate_size": INTER,
            "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "num_hidden_layers": layers,
            "vocab_size": VOCAB, "max_position_embeddings": MAX_POS, "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": torch_dtype,
        }
    if arch == "gpt2":
        return {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": HIDDEN, "n_head": HEADS,
            "n_layer": layers, "n_positions": MAX_POS, "n_ctx": MAX_POS, "vocab_size": VOCAB,
            "tie_word_embeddings": True, "torch_dtype": torch_dtype,
        }
    return {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": HIDDEN, "intermediate_size": INTER,
        "num_attention_heads": HEADS, "num_hidden_layers": layers, "vocab_size": VOCAB,
        "max_position_embeddings": MAX_POS, "type_vocab_size": 2, "torch_dtype": torch_dtype,
    }


def shapes_for(arch, layers):
    if arch in ("llama", "mistral"):
        return decoder_shapes(layers, False)
    if arch == "qwen2":
        return decoder_shapes(layers, True)
    if arch == "gpt2":
        return gpt2_shapes(layers)
    return bert_shapes(layers)


def is_norm(name):
    return "norm" in name.lower() or "ln_" in name


def make_model(arch, layers, role_index, seed):
    """Base (role_index 0) or base + task vector (role_index 1..3): float32 arrays."""
    base_rng = np.random.RandomState(seed)
    tensors = []
    for name, shape in shapes_for(arch, layers):
        if is_norm(name) and name.endswith("weight"):
            w = 1.0 + 0.05 * base_rng.standard_normal(shape)
        else:
            w = 0.2 * base_rng.standard_normal(shape)
        tensors.append((name, w.astype(np.float32)))
    if role_index == 0:
        return tensors
    tv_rng = np.random.RandomState(seed * 100 + role_index)
    out = []
    for name, w in tensors:
        # task vectors: mostly small, a few large entries (as fine-tuning deltas are)
        d = 0.02 * tv_rng.standard_normal(w.shape) * (1 + 4 * (tv_rng.random_sample(w.shape) < 0.1))
        out.append((name, (w + d).astype(np.float32)))
    return out


def write_model(out_dir, name, arch, layers, role_index, seed, dtype):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    tensors = make_model(arch, layers, role_index, seed)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_for(arch, layers, dtype), f, indent=2, sort_keys=True)
        f.write("\n")


ROLES = ["base", "a", "b", "c"]
SEEDS = {"llama": 11, "mistral": 12, "qwen2": 13, "gpt2": 14, "bert": 15, "llama-8l": 16}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for arch in ("llama", "mistral", "qwen2", "gpt2", "bert"):
        for i, role in enumerate(ROLES):
            write_model(out_dir, f"{arch}-{role}", arch, LAYERS, i, SEEDS[arch], "F32")
    for i, role in enumerate(ROLES):
        write_model(out_dir, f"llama-{role}-bf16", "llama", LAYERS, i, SEEDS["llama"], "BF16")
    for i, role in enumerate(ROLES[:3]):
        write_model(out_dir, f"llama-8l-{role}", "llama", 8, i, SEEDS["llama-8l"], "F32")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_checkpoints.py OUT_DIR")
    main(sys.argv[1])
