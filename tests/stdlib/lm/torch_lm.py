#!/usr/bin/python3
"""Independent reference for mergelab's language-model forward passes.

Writes a small random Hugging Face checkpoint (config.json + model.safetensors,
float32, written here with struct/json, not by mergelab) and the logits of an
own PyTorch implementation of the Llama family (llama / mistral / qwen2) and
GPT-2, written from the transformers eager modules' equations:

  Llama: x + o(attn(rope(q(rms(x))), rope(k(..)), v(..))) ; x + down(silu(gate(rms x)) * up(rms x))
         RoPE: inv_freq = theta^(-2i/d) (float32), llama3 band rescaling, rotate_half;
         GQA by repeat_interleave of k/v heads; Qwen2 q/k/v biases; tied or untied head.
  GPT-2: Conv1D (x @ W + b with W [in, out]), learned positions, LayerNorm, GELU tanh.

Usage: torch_lm.py SPEC.json OUTDIR   (Debian's /usr/bin/python3 with python3-torch)
SPEC: {"config": {...config.json...}, "seed": int, "ids": [[...], ...], "prefix": "model." | "transformer." | "",
       "tokenizer": {...tokenizer.json...} (optional, copied)}
Output: OUTDIR/config.json, OUTDIR/model.safetensors, OUTDIR/logits.f32 (each sequence's T*V logits in
order, float32 little-endian), OUTDIR/tokenizer.json when given.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(a)]}
        blobs.append(a)
        offset += len(a)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def llama_weights(cfg, g, prefix):
    D, H, I, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    Hkv = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim", D // H)
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    rn = lambda *s, std=0.02: torch.randn(*s, generator=g) * std
    w = {f"{prefix}embed_tokens.weight": rn(V, D, std=1.0), f"{prefix}norm.weight": 1 + rn(D, std=0.1)}
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = rn(V, D, std=0.1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + rn(D, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1 + rn(D, std=0.1)
        for n, out in (("q", H * hd), ("k", Hkv * hd), ("v", Hkv * hd)):
            w[p + f"self_attn.{n}_proj.weight"] = rn(out, D, std=0.15)
            if qkv_bias:
                w[p + f"self_attn.{n}_proj.bias"] = rn(out, std=0.1)
        w[p + "self_attn.o_proj.weight"] = rn(D, H * hd, std=0.1)
        if o_bias:
            w[p + "self_attn.o_proj.bias"] = rn(D, std=0.1)
        w[p + "mlp.gate_proj.weight"] = rn(I, D, std=0.1)
        w[p + "mlp.up_proj.weight"] = rn(I, D, std=0.1)
        w[p + "mlp.down_proj.weight"] = rn(D, I, std=0.1)
        if mlp_bias:
            for n, out in (("gate", I), ("up", I), ("down", D)):
                w[p + f"mlp.{n}_proj.bias"] = rn(out, std=0.1)
    return w


def inv_freq(cfg, hd):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    sc = cfg.get("rope_scaling")
    if not sc:
        return inv
    kind = sc.get("rope_type", sc.get("type"))
    if kind == "linear":
        return inv / sc["factor"]
    assert kind == "llama3"
    factor, lo, hi, old = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"], sc["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > old / lo, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old / hi) * ~(wavelen > old / lo)
    return torch.where(medium, blended, scaled)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(cfg, w, ids, prefix):
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim", D // H)
    eps = cfg.get("rms_norm_eps", 1e-6)
    B, T = ids.shape
    rms = lambda x, g: g * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    lin = lambda x, name: F.linear(x, w[name + ".weight"], w.get(name + ".bias"))
    freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq(cfg, hd)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((T, T), float("-inf")).triu(1)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    if window:
        i = torch.arange(T)
        mask = mask.masked_fill((i[:, None] - i[None, :]) >= window, float("-inf"))
    x = w[f"{prefix}embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"{prefix}layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = lin(h, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, Hkv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, Hkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + lin(o, p + "self_attn.o_proj")
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        x = x + lin(F.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, w[f"{prefix}norm.weight"])
    head = w[f"{prefix}embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def gpt2_weights(cfg, g, prefix):
    D, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg.get("n_inner") or 4 * D
    rn = lambda *s, std=0.02: torch.randn(*s, generator=g) * std
    w = {f"{prefix}wte.weight": rn(V, D, std=1.0), f"{prefix}wpe.weight": rn(P, D, std=0.5),
         f"{prefix}ln_f.weight": 1 + rn(D, std=0.1), f"{prefix}ln_f.bias": rn(D, std=0.1)}
    for l in range(cfg["n_layer"]):
        p = f"{prefix}h.{l}."
        for n in ("ln_1", "ln_2"):
            w[p + n + ".weight"] = 1 + rn(D, std=0.1)
            w[p + n + ".bias"] = rn(D, std=0.1)
        # Conv1D stores [in, out]
        for n, i, o in (("attn.c_attn", D, 3 * D), ("attn.c_proj", D, D), ("mlp.c_fc", D, I), ("mlp.c_proj", I, D)):
            w[p + n + ".weight"] = rn(i, o, std=0.15)
            w[p + n + ".bias"] = rn(o, std=0.1)
    return w


def gpt2_forward(cfg, w, ids, prefix):
    D, H = cfg["n_embd"], cfg["n_head"]
    hd = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    B, T = ids.shape
    ln = lambda x, n: F.layer_norm(x, (D,), w[n + ".weight"], w[n + ".bias"], eps)
    conv = lambda x, n: torch.addmm(w[n + ".bias"], x.reshape(-1, x.shape[-1]), w[n + ".weight"]).view(*x.shape[:-1], -1)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = w[f"{prefix}wte.weight"][ids] + w[f"{prefix}wpe.weight"][torch.arange(T)][None]
    for l in range(cfg["n_layer"]):
        p = f"{prefix}h.{l}."
        q, k, v = conv(ln(x, p + "ln_1"), p + "attn.c_attn").split(D, dim=2)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if cfg.get("scale_attn_by_inverse_layer_idx"):
            s = s / float(l + 1)
        s = torch.where(causal, s, torch.tensor(torch.finfo(s.dtype).min))
        a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + conv(a, p + "attn.c_proj")
        x = x + conv(F.gelu(conv(ln(x, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh"), p + "mlp.c_proj")
    return ln(x, f"{prefix}ln_f") @ w[f"{prefix}wte.weight"].T


def main():
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    cfg, prefix = spec["config"], spec.get("prefix", "")
    g = torch.Generator().manual_seed(spec.get("seed", 0))
    gpt2 = cfg["model_type"] == "gpt2"
    w = (gpt2_weights if gpt2 else llama_weights)(cfg, g, prefix)
    with torch.no_grad():
        # one sequence at a time: sequences may differ in length
        logits = [(gpt2_forward if gpt2 else llama_forward)(cfg, w, torch.tensor([ids], dtype=torch.int64), prefix) for ids in spec["ids"]]
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    if "tokenizer" in spec:
        json.dump(spec["tokenizer"], open(os.path.join(out, "tokenizer.json"), "w"))
    with open(os.path.join(out, "logits.f32"), "wb") as f:
        for z in logits:
            f.write(z.to(torch.float32).contiguous().numpy().tobytes())


if __name__ == "__main__":
    main()
