#!/usr/bin/python3
"""Unit references for nuslerp, karcher, arcee_fusion and model_stock (filter_wise), computed by
mergekit's OWN merge-method code on random float32 tensors (Debian's python3-torch).

    MERGEKIT_SRC=/path/to/mergekit-checkout /usr/bin/python3 tests/stdlib/methods/mergekit_cases.py OUT.json

Imports mergekit through tests/mergekit/reference/mergekit_ref.py (its pydantic/transformers stubs), then
runs, unmodified:
  mergekit/merge_methods/nuslerp.py       NuSlerpTask.execute (weights → t, optional base, row_wise, flatten)
  mergekit/merge_methods/karcher.py       KarcherTask.execute (karcher_merge_tensors)
  mergekit/merge_methods/arcee_fusion.py  ArceeFusionMergeTask.execute (importance, dynamic threshold)
  mergekit/merge_methods/model_stock.py   ModelStockMergeTask.execute (filter_wise true and false)
on small tensors, including edge cases: parallel vectors (rows), zero vectors, 1-D tensors, one-row
matrices, 3-D tensors. Writes every case's inputs and mergekit's output (float32 values, exact in JSON)
with the mergekit commit. Deterministic (numpy seeded).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../mergekit/reference"))
import mergekit_ref  # noqa: E402  (exits unless MERGEKIT_SRC is set)

mk = mergekit_ref.install_mergekit()
from mergekit.merge_methods.nuslerp import NuSlerpTask  # noqa: E402
from mergekit.merge_methods.karcher import KarcherTask  # noqa: E402
from mergekit.merge_methods.arcee_fusion import ArceeFusionMergeTask  # noqa: E402
from mergekit.merge_methods.model_stock import ModelStockMergeTask  # noqa: E402

Ref = mergekit_ref.ModelReference
IM = mergekit_ref.ImmutableMap
W = mk.arch.WeightInfo(name="model.layers.0.mlp.down_proj.weight")
rng = np.random.default_rng(20261130)


def rand(shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


cases = []


def add(name, method, params, inputs, out):
    cases.append({
        "name": name, "method": method, "params": params,
        "shape": list(out.shape),
        "inputs": {k: [float(x) for x in v.reshape(-1)] for k, v in inputs.items()},
        "out": [float(x) for x in out.detach().to(torch.float32).numpy().reshape(-1)],
    })


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ------------------------------------------------------------------ nuslerp

def nuslerp_case(name, x0, x1, base, w, row_wise, flatten):
    refs = [Ref("x0"), Ref("x1")]
    tensors = {refs[0]: t(x0), refs[1]: t(x1)}
    base_ref = None
    if base is not None:
        base_ref = Ref("base")
        tensors[base_ref] = t(base)
    task = NuSlerpTask(gather_tensors=None, tensor_parameters=IM({refs[0]: IM({"weight": w[0]}), refs[1]: IM({"weight": w[1]})}),
                       weight_info=W, row_wise=row_wise, flatten=flatten, base_model=base_ref)
    out = task.execute(tensors=tensors)
    inputs = {"x0": x0, "x1": x1}
    if base is not None:
        inputs["base"] = base
    add(name, "nuslerp", {"weights": w, "row_wise": row_wise, "flatten": flatten}, inputs, out)


for shape in ([6, 10], [10], [1, 8], [4, 3, 5], [7, 1]):
    for row_wise in (False, True):
        for flatten in (False, True):
            if flatten and row_wise:
                continue
            b = rand(shape)
            nuslerp_case(f"nuslerp {shape} rw={row_wise} fl={flatten}", rand(shape), rand(shape), None, [0.6, 0.4], row_wise, flatten)
            nuslerp_case(f"nuslerp {shape} base rw={row_wise} fl={flatten}", b + rand(shape, 0.1), b + rand(shape, 0.1), b, [0.3, 0.9], row_wise, flatten)
# parallel rows (2·x, and the same row), a zero row, zero-sum weights
x0 = rand([5, 8])
x1 = rand([5, 8])
x1[0] = 2 * x0[0]
x1[1] = x0[1]
x1[2] = -x0[2]
x0[3] = 0
for rw, fl in ((False, False), (True, False), (False, True)):
    nuslerp_case(f"nuslerp parallel/zero rows rw={rw} fl={fl}", x0, x1, None, [0.6, 0.4], rw, fl)
nuslerp_case("nuslerp parallel tensors", x0, 3 * x0, None, [0.5, 0.5], False, True)
nuslerp_case("nuslerp zero tensor", np.zeros([4, 6], np.float32), rand([4, 6]), None, [0.6, 0.4], False, True)
nuslerp_case("nuslerp zero-sum weights", rand([4, 6]), rand([4, 6]), rand([4, 6]), [-0.5, 0.5], False, False)

# ------------------------------------------------------------------ karcher

def karcher_case(name, xs, max_iter, tol):
    refs = [Ref(f"x{i}") for i in range(len(xs))]
    task = KarcherTask(gather_tensors=None, weight_info=W, max_iter=max_iter, tol=tol)
    out = task.execute(tensors={r: t(x) for r, x in zip(refs, xs)})
    add(name, "karcher", {"max_iter": max_iter, "tol": tol}, {f"x{i}": x for i, x in enumerate(xs)}, out)


c = rand([6, 10])
for n in (2, 3, 4):
    for it in (0, 1, 5, 10):
        karcher_case(f"karcher {n} models iter={it}", [c + rand([6, 10], 0.5) for _ in range(n)], it, 1e-5)
karcher_case("karcher 1-D", [rand([12]) for _ in range(3)], 10, 1e-5)
karcher_case("karcher far apart", [rand([30]) for _ in range(3)], 10, 1e-5)
karcher_case("karcher with a zero tensor", [rand([5, 4]), np.zeros([5, 4], np.float32), rand([5, 4])], 10, 1e-5)
karcher_case("karcher all zero", [np.zeros([3, 4], np.float32), np.zeros([3, 4], np.float32)], 10, 1e-5)
p = rand([5, 4])
karcher_case("karcher parallel", [p, 2 * p, 0.5 * p], 10, 1e-5)
karcher_case("karcher loose tol", [c + rand([6, 10], 0.5) for _ in range(3)], 10, 1e-2)

# ------------------------------------------------------------------ arcee_fusion

def fusion_case(name, base, x):
    refs = [Ref("base"), Ref("x")]
    task = ArceeFusionMergeTask(gather_tensors=None, base_model=refs[0], weight_info=W)
    out = task.execute(tensors={refs[0]: t(base), refs[1]: t(x)})
    add(name, "arcee_fusion", {}, {"base": base, "x": x}, out)


for shape in ([8, 12], [20], [1, 16], [3, 4, 6], [16, 1]):
    b = rand(shape)
    fusion_case(f"arcee_fusion {shape}", b, b + rand(shape, 0.3))
b = rand([6, 9])
x = b.copy()
x[2] += rand([9], 0.5)
fusion_case("arcee_fusion one changed row", b, x)
fusion_case("arcee_fusion identical", b, b.copy())

# ------------------------------------------------------------------ model_stock

def stock_case(name, base, xs, filter_wise):
    refs = [Ref("base")] + [Ref(f"x{i}") for i in range(len(xs))]
    task = ModelStockMergeTask(gather_tensors=None, base_model=refs[0], weight_info=W, filter_wise=filter_wise)
    tensors = {refs[0]: t(base)}
    tensors.update({r: t(x) for r, x in zip(refs[1:], xs)})
    out = task.execute(tensors=tensors)
    add(name, "model_stock", {"filter_wise": filter_wise}, {"base": base, **{f"x{i}": x for i, x in enumerate(xs)}}, out)


for shape in ([6, 10], [10], [1, 8], [3, 4, 5]):
    for n in (2, 3):
        b = rand(shape)
        stock_case(f"model_stock {shape} {n} experts filter_wise", b, [b + rand(shape, 0.2) for _ in range(n)], True)
b = rand([5, 6])
d = rand([5, 6], 0.2)
x0 = b + d
x1 = b + rand([5, 6], 0.2)
x1[0] = b[0] + 2 * d[0]  # parallel task vectors in row 0
x0[2] = b[2]             # a zero task vector in row 2
# (not opposite task vectors: with 2 experts c = -1 is the pole of t = 2c/(1 + c), and both mergekit's and
# mergelab's results there are rounding noise amplified ~1e7)
stock_case("model_stock parallel/zero rows filter_wise", b, [x0, x1], True)
stock_case("model_stock parallel/zero rows per tensor", b, [x0, x1], False)


with open(sys.argv[1], "w") as f:
    json.dump({"mergekit_commit": mergekit_ref.mergekit_commit(), "torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases", file=sys.stderr)
