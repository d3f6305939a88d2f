#!/usr/bin/python3
"""Reference rows for `tokenizer: tokens:` / tokenizer_source, computed by mergekit's OWN embedding code.

    MERGEKIT_SRC=/path/to/mergekit-checkout /usr/bin/python3 embed_ref.py OUT.json

Imports, unmodified, from MERGEKIT_SRC:
  mergekit/tokenizer/config.py   ModelTokenEmbedding, ZeroEmbedding, TokenEmbeddingConfig
  mergekit/tokenizer/embed.py    PermutedEmbeddings.execute (assign_embedding_sources, compute_default_embedding,
                                 padding rows) — the rows every model's re-indexed embedding gets
Stubbed (plumbing only): pydantic (a BaseModel that stores keyword arguments and class defaults, as
tests/mergekit/reference/mergekit_ref.py does), mergekit.common (ModelReference, ImmutableMap), mergekit.graph
(Task), mergekit.io.tasks (GatherTensors), mergekit.tokenizer.build (BuildTokenizer, TokenizerInfo: a plain
holder). NOT executed: mergekit/tokenizer/build.py (it needs transformers, not in Debian): the output vocabulary
(union order) and each model's permutation are built here the way build_tokenizer builds them (vocab_out: the base's
tokens, then the others' missing tokens, then the `tokens:` keys the vocabulary lacks; p[new_id] = the model's id
of the token or -1). The comparison in tests/cli/mergekit-tokenizer.test.ts is by token string, so only which
row each token gets matters, not the output order.

Writes OUT.json: for each scenario, the models (token lists, embedding rows), the base, the `tokens:` config as
in a mergekit YAML, pad_to_multiple_of, the output vocabulary, and mergekit's re-indexed rows per model.
"""
import importlib.util
import json
import os
import subprocess
import sys
import types
import typing

import torch

MK_SRC = os.environ.get("MERGEKIT_SRC")
if not MK_SRC or not os.path.isdir(os.path.join(MK_SRC, "mergekit")):
    sys.exit("set MERGEKIT_SRC to a mergekit source tree (the directory holding mergekit/)")
MK = os.path.join(MK_SRC, "mergekit")


# ------------------------------------------------------------------ stubs (plumbing only)


class BaseModel:
    """pydantic stand-in: fields are keyword arguments; defaults are class attributes."""

    def __init_subclass__(cls, **_kw):
        super().__init_subclass__()

    def __init__(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)


pydantic = types.ModuleType("pydantic")
pydantic.BaseModel = BaseModel
pydantic.model_validator = lambda **_kw: (lambda f: f)
sys.modules["pydantic"] = pydantic


class ModelReference:
    def __init__(self, path):
        self.path = path

    def __eq__(self, other):
        return isinstance(other, ModelReference) and other.path == self.path

    def __hash__(self):
        return hash(self.path)

    def __repr__(self):
        return self.path


common = types.ModuleType("mergekit.common")
common.ModelReference = ModelReference
common.ImmutableMap = dict
graph = types.ModuleType("mergekit.graph")
T = typing.TypeVar("T")


class Task(typing.Generic[T]):
    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


graph.Task = Task
io_tasks = types.ModuleType("mergekit.io.tasks")
io_tasks.GatherTensors = object
build = types.ModuleType("mergekit.tokenizer.build")
build.BuildTokenizer = object


class TokenizerInfo:
    def __init__(self, tokenizer, permutations, original_vocabs):
        self.tokenizer, self.permutations, self.original_vocabs = tokenizer, permutations, original_vocabs


build.TokenizerInfo = TokenizerInfo
for name in ["mergekit", "mergekit.io", "mergekit.tokenizer"]:
    sys.modules[name] = types.ModuleType(name)
sys.modules.update({"mergekit.common": common, "mergekit.graph": graph, "mergekit.io.tasks": io_tasks, "mergekit.tokenizer.build": build})


def load(name, rel):
    spec = importlib.util.spec_from_file_location(name, os.path.join(MK, rel))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


config = load("mergekit.tokenizer.config", "tokenizer/config.py")
embed = load("mergekit.tokenizer.embed", "tokenizer/embed.py")


class Vocab:
    """What PermutedEmbeddings reads of the output tokenizer: get_vocab()."""

    def __init__(self, tokens):
        self.tokens = tokens

    def get_vocab(self):
        return {t: i for i, t in enumerate(self.tokens)}


# ------------------------------------------------------------------ scenarios

WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "<s>"]
DIM = 3
MODELS = {"a": WORDS, "b": WORDS + ["<tool>", "<think>"], "c": WORDS + ["<tool>"]}


def rows_of(m, tokens):
    # distinct values, exact in float32, whose sums and means are exact too (order-independent)
    return [[m + (i * DIM + j) / 64 for j in range(DIM)] for i, _ in enumerate(tokens)]


def token_config(cfg):
    """A YAML `tokens:` entry → mergekit's TokenEmbeddingConfig (what pydantic's parse would build)."""
    src = cfg.get("source")
    if isinstance(src, str):
        src = ModelReference(src)
    elif src.get("kind") == "zero":
        src = config.ZeroEmbedding(kind="zero")
    else:
        src = config.ModelTokenEmbedding(kind="model_token", model=ModelReference(src["model"]), token=src.get("token"), token_id=src.get("token_id"))
    return config.TokenEmbeddingConfig(source=src, force=cfg.get("force", False))


def scenario(name, models, base, tokens, pad):
    vocab_out = []
    for m in ([base] if base else []) + [m for m in models if m != base]:
        vocab_out += [t for t in MODELS[m] if t not in vocab_out]
    vocab_out += [t for t in (tokens or {}) if t not in vocab_out]
    refs = {m: ModelReference(m) for m in models}
    perms = {refs[m]: {i: (MODELS[m].index(t) if t in MODELS[m] else -1) for i, t in enumerate(vocab_out)} for m in models}
    info = TokenizerInfo(Vocab(vocab_out), perms, {refs[m]: {t: i for i, t in enumerate(MODELS[m])} for m in models})
    tensors = {refs[m]: torch.tensor(rows_of(k, MODELS[m]), dtype=torch.float32) for k, m in enumerate(models)}
    task = embed.PermutedEmbeddings(
        gather_tensors=None,
        tokenizer_task=None,
        tokens={t: token_config(c) for t, c in tokens.items()} if tokens else None,
        pad_to_multiple_of=pad,
        base_model=refs[base] if base else None,
    )
    common = {"name": name, "models": {m: {"tokens": MODELS[m], "rows": rows_of(k, MODELS[m])} for k, m in enumerate(models)}, "base": base, "tokens": tokens, "pad_to_multiple_of": pad}
    try:
        out = task.execute(info, tensors)
    except Exception as e:  # mergekit's own failure, recorded (e.g. a zero source at a6e4028: UnboundLocalError)
        return {**common, "error": f"{type(e).__name__}: {e}"}
    return {
        **common,
        "vocab": vocab_out,
        "rows": {m: out[refs[m]].tolist() for m in models},
    }


SCENARIOS = [
    ("README tokens: model_token by token and by token_id, a forced model row, a model row, pad", ["a", "b", "c"], "a", {
        "<|im_start|>": {"source": {"kind": "model_token", "model": "b", "token": "<think>"}},
        "<|im_end|>": {"source": {"kind": "model_token", "model": "c", "token_id": 7}, "force": True},
        "<tool>": {"source": "c", "force": True},
        "sat": {"source": {"kind": "model_token", "model": "b", "token_id": 2}, "force": True},
        "<think>": {"source": "b"},
        "mat": {"source": "a"},
    }, 4),
    # mergekit's compute_default_embedding returns an unbound `embed` for ZeroEmbedding: recorded as its error
    ("a zero source", ["a", "b"], "a", {"<pad>": {"source": {"kind": "zero"}}}, None),
    ("defaults with a base: the only model, else the base, else the mean", ["a", "b", "c"], "a", None, None),
    ("defaults without a base: the mean of the models that have it", ["b", "c", "a"], None, None, 8),
]

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    commit = os.environ.get("MERGEKIT_COMMIT") or subprocess.run(["git", "-C", MK_SRC, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    data = {"mergekit_commit": commit, "source": "mergekit/tokenizer/embed.py PermutedEmbeddings.execute", "scenarios": [scenario(*s) for s in SCENARIOS]}
    with open(sys.argv[1], "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
