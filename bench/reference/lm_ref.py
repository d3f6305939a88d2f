#!/usr/bin/python3
"""PyTorch CPU reference for `npm run bench lm`: writes a random Llama checkpoint
(tests/stdlib/lm/torch_lm.py, the independent implementation the logits tests
use) and times its float32 forward pass over a [B, T] batch.

Usage: lm_ref.py SPEC.json OUTDIR B T REPS THREADS   (Debian's /usr/bin/python3, python3-torch)
Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "threads": N}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "stdlib", "lm"))
import torch  # noqa: E402
import torch_lm  # noqa: E402


def main():
    spec_path, out, B, T, reps, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    torch.set_num_threads(threads)
    spec = json.load(open(spec_path))
    cfg, prefix = spec["config"], spec.get("prefix", "model.")
    w = torch_lm.llama_weights(cfg, torch.Generator().manual_seed(spec.get("seed", 0)), prefix)
    os.makedirs(out, exist_ok=True)
    torch_lm.write_safetensors(os.path.join(out, "model.safetensors"), w)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=torch.Generator().manual_seed(1))
    times = []
    with torch.no_grad():
        torch_lm.llama_forward(cfg, w, ids, prefix)  # warm-up
        for _ in range(reps):
            t0 = time.perf_counter()
            torch_lm.llama_forward(cfg, w, ids, prefix)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"tokens_per_s": B * T / min(times), "seconds": times, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
