#!/usr/bin/python3
"""The benchmark's reference: mergekit's TIES / DARE-TIES algorithm on torch CPU.

Written from mergekit's generalized_task_arithmetic.py and sparsify.py (the
algorithm, not the package): per tensor, task vectors d_i = x_i - base in
float32; sparsify each (ties: keep the top density*n |d| by argsort, as
mergekit's `magnitude`; dare: torch.bernoulli keep mask, rescaled by
1/density); weighted deltas; sign consensus "sum" (majority sign of the
summed deltas); disjoint merge divided by the sum of agreeing weights; result
base + lambda*merged, cast to bf16.

Safetensors are read and written by hand with numpy (torch 1.13 has no
safetensors reader, numpy has no bf16): bf16 bytes -> uint16 -> shifted into
uint32 -> viewed as float32. End-to-end time (read, merge, write) is printed
as one JSON line. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def read_tensor(f, data_start, info):
    start, end = info["data_offsets"]
    f.seek(data_start + start)
    raw = f.read(end - start)
    dtype = info["dtype"]
    if dtype == "BF16":
        u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
        arr = u.view(np.float32)
    elif dtype == "F16":
        arr = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
    elif dtype == "F32":
        arr = np.frombuffer(raw, dtype=np.float32).copy()
    else:
        raise SystemExit(f"unsupported dtype {dtype}")
    return torch.from_numpy(arr).reshape(info["shape"])


def magnitude(delta, density):
    """mergekit sparsify.magnitude: keep the int(density*n) largest |d| (argsort)."""
    if density >= 1:
        return delta
    k = int(density * delta.numel())
    assert k > 0
    mask = torch.zeros_like(delta)
    w = delta.abs().view(-1)
    topk = torch.argsort(w, descending=True)[:k]
    mask.view(-1)[topk] = 1
    return delta * mask


def bernoulli(delta, density):
    """mergekit sparsify.bernoulli with rescale: keep with probability density, divide by it."""
    if density >= 1:
        return delta
    mask = torch.bernoulli(torch.full_like(delta, density))
    return delta * mask / density


def get_mask(weighted):
    """mergekit get_mask(method="sum")."""
    sign = weighted.sign()
    sign_weight = weighted.sum(dim=0)
    majority_sign = (sign_weight >= 0).to(weighted.dtype) * 2 - 1
    return sign == majority_sign


def merge_tensor(base, xs, method, density, lam):
    deltas = [x - base for x in xs]
    if method == "ties":
        deltas = [magnitude(d, density) for d in deltas]
    else:
        deltas = [bernoulli(d, density) for d in deltas]
    deltas = torch.stack(deltas, dim=0)
    weights = torch.ones(len(xs), dtype=deltas.dtype)
    while len(deltas.shape) > len(weights.shape):
        weights.unsqueeze_(-1)
    weighted = deltas * weights
    mask = get_mask(weighted)
    mixed = (weighted * mask).sum(dim=0)
    divisor = (weights * mask).sum(dim=0)
    divisor[divisor == 0] = 1
    mixed /= divisor
    if lam != 1:
        mixed *= lam
    return base + mixed


def to_bf16_bytes(t):
    return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", choices=["ties", "dare_ties"], required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--experts", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--density", type=float, default=0.2)
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    t0 = time.perf_counter()
    header, base_start = read_header(a.base)
    experts = [read_header(p) for p in a.experts]
    files = [open(a.base, "rb")] + [open(p, "rb") for p in a.experts]
    names = sorted(header)
    out_header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in names:
        n = int(np.prod(header[name]["shape"])) if header[name]["shape"] else 1
        out_header[name] = {"dtype": "BF16", "shape": header[name]["shape"], "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    hjson = json.dumps(out_header).encode()
    hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)
    elements = 0
    with open(a.out, "wb") as out:
        out.write(struct.pack("<Q", len(hjson)))
        out.write(hjson)
        for name in names:
            base = read_tensor(files[0], base_start, header[name])
            xs = [read_tensor(files[i + 1], experts[i][1], experts[i][0][name]) for i in range(len(a.experts))]
            merged = merge_tensor(base, xs, a.method, a.density, a.lam)
            out.write(to_bf16_bytes(merged))
            elements += base.numel() * len(xs)
    for f in files:
        f.close()
    seconds = time.perf_counter() - t0
    print(json.dumps({"method": a.method, "seconds": seconds, "expert_elements": elements, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
