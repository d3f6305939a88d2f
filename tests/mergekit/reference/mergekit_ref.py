#!/usr/bin/python3
"""Reference outputs for the mergekit conformance suite, computed by mergekit's OWN code.

    MERGEKIT_SRC=/path/to/mergekit-checkout /usr/bin/python3 mergekit_ref.py MODELS_DIR CONFIG.yml... --out DATA_DIR

MERGEKIT_SRC is a mergekit source tree (the directory holding the `mergekit/` package). This script
imports, unmodified, from that tree:
  mergekit/config.py                  MergeConfiguration, ConfigReader, evaluate_setting (parameter lookup,
                                      gradients, filters)
  mergekit/plan.py                    MergePlanner (models → slices, base model added, pre/layer/post weights,
                                      the t of each layer, which slice's models feed embeddings and lm_head)
  mergekit/merge_methods/*            every merge method and its Task (linear, ties, dare, della, breadcrumbs,
                                      slerp, nuslerp, multislerp, karcher, model_stock, sce, nearswap, ram,
                                      arcee_fusion, passthrough ...), through merge_methods.get()
  mergekit/sparsify.py                magnitude, bernoulli, magnitude_outliers, della_magprune
  mergekit/architecture/base.py       WeightInfo, ConfiguredModuleArchitecture, ConfiguredModelArchitecture
  mergekit/_data/architectures/*.json the tensor layout of each architecture
and executes (source extracted with `ast`, run unmodified) the functions/classes
  mergekit/common.py                  set_config_value, get_config_value, dtype_from_name
  mergekit/io/tasks.py                LoadTensor, GatherTensors, ReturnTensor (dtype handling on load/save)
  mergekit/merge.py                   _model_out_config (the output config.json: layer count, torch_dtype)

Only plumbing is stubbed: pydantic (Debian has none/1.x; mergekit wants 2) by a minimal BaseModel that
stores keyword arguments; transformers.PretrainedConfig by an attribute bag read from config.json; the
task graph executor (graph.py: networkx, tqdm) by a recursive evaluator; tensor loading by a small
safetensors reader; tokenizer tasks (never built: the suite's configs use the base tokenizer).

For each config it writes DATA_DIR/<name>.safetensors (the merged tensors exactly as mergekit's
ReturnTensor yields them, in its output dtype), DATA_DIR/<name>.rules.safetensors where mergelab's documented
rules (float32 compute, magnitude ties broken by index) change the result, and a record in DATA_DIR/expected.json: mergekit's
commit, method, per-tensor dtype, output config.json fields, tensors that are copies of a tied
weight, or mergekit's own error if it refuses the config. Deterministic: torch.manual_seed(0)
before each config (DARE/DELLA draws are torch's; mergelab's generator differs on purpose).
"""
import ast
import json
import os
import struct
import subprocess
import sys
import types
import typing
from abc import ABC

import numpy as np
import torch
import yaml

MK_SRC = os.environ.get("MERGEKIT_SRC")
if not MK_SRC or not os.path.isdir(os.path.join(MK_SRC, "mergekit")):
    sys.exit("set MERGEKIT_SRC to a mergekit source tree (the directory holding mergekit/)")
MK = os.path.join(MK_SRC, "mergekit")


# ------------------------------------------------------------------ stubs: pydantic, transformers


class BaseModel:
    """pydantic stand-in: fields are keyword arguments; defaults are class attributes."""

    def __init_subclass__(cls, **_kw):
        super().__init_subclass__()

    def __init__(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def model_dump(self, mode=None, exclude=None, exclude_unset=False, **_kw):
        out = {}
        for klass in reversed(type(self).__mro__):
            for k in getattr(klass, "__annotations__", {}):
                if hasattr(self, k):
                    out[k] = getattr(self, k)
        out.update({k: v for k, v in self.__dict__.items()})
        for k in exclude or ():
            out.pop(k, None)
        return out

    @classmethod
    def model_validate(cls, data):
        return cls(**data)

    @classmethod
    def model_rebuild(cls, **_kw):
        return None

    def model_copy(self, update=None, deep=False):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(update or {})
        return new


def Field(default=None, **kw):
    return default


def model_validator(**_kw):
    return lambda f: f


def create_model(name, __base__=object, **fields):
    ns = {k: v for k, v in fields.items() if callable(v) and not isinstance(v, tuple)}
    return types.new_class(name, (__base__,), {}, lambda d: d.update(ns))


pydantic = types.ModuleType("pydantic")
pydantic.BaseModel = BaseModel
pydantic.Field = Field
pydantic.model_validator = model_validator
pydantic.field_validator = model_validator
pydantic.create_model = create_model
pydantic.ConfigDict = dict
pydantic.GetCoreSchemaHandler = object
sys.modules["pydantic"] = pydantic
pydantic_core = types.ModuleType("pydantic_core")
pydantic_core.core_schema = types.SimpleNamespace()
sys.modules["pydantic_core"] = pydantic_core


class PretrainedConfig:
    def __init__(self, data):
        self.__dict__.update(data)

    def to_dict(self):
        return dict(self.__dict__)


transformers = types.ModuleType("transformers")
transformers.PretrainedConfig = PretrainedConfig
sys.modules["transformers"] = transformers

import typing_extensions  # noqa: E402  Debian's is older than mergekit's: add what it imports from typing

for _name in ("Callable", "override", "Generic", "TypeVar", "TypeAlias", "Literal"):
    if not hasattr(typing_extensions, _name):
        setattr(typing_extensions, _name, getattr(typing, _name, lambda f: f))


# ------------------------------------------------------------------ loading pieces of mergekit


def package(name, path=None):
    m = types.ModuleType(name)
    m.__path__ = [path] if path else []
    sys.modules[name] = m
    return m


def exec_defs(relpath, names, ns):
    """Run the top-level definitions `names` of a mergekit source file (unmodified) in namespace ns."""
    src = open(os.path.join(MK, relpath)).read()
    tree = ast.parse(src)
    nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
    missing = set(names) - {n.name for n in nodes}
    if missing:
        raise SystemExit(f"{relpath}: no {sorted(missing)} (mergekit changed?)")
    exec(compile(ast.Module(body=nodes, type_ignores=[]), os.path.join(MK, relpath), "exec"), ns)
    return ns


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = data[a:b]
        dt = info["dtype"]
        if dt == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
        elif dt == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f2").copy())
        elif dt == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy())
        elif dt == "I64":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i8").copy())
        else:
            raise SystemExit(f"{path}: {name}: dtype {dt} not handled")
        out[name] = t.reshape(info["shape"])
    return out


ST_DTYPE = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int64: "I64"}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class ModelReference:
    """mergekit.common.ModelReference stand-in: a local path (no LoRA, no Hub)."""

    def __init__(self, path):
        self.path = str(path)

    def __eq__(self, other):
        return isinstance(other, ModelReference) and other.path == self.path

    def __hash__(self):
        # stable across runs (pydantic's hash depends on PYTHONHASHSEED): set() orders are reproducible
        return int.from_bytes(self.path.encode()[:7].ljust(7, b"\0"), "little") ^ len(self.path)

    def __str__(self):
        return self.path

    __repr__ = __str__

    def config(self, trust_remote_code=False):
        with open(os.path.join(self.path, "config.json")) as f:
            return PretrainedConfig(json.load(f))


class ImmutableMap:
    def __init__(self, data):
        self.data = dict(data)

    def __getitem__(self, k):
        return self.data[k]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def keys(self):
        return self.data.keys()

    def items(self):
        return self.data.items()

    def values(self):
        return self.data.values()

    def __class_getitem__(cls, _item):
        return cls


def install_mergekit():
    package("mergekit", MK)
    package("mergekit._data", os.path.join(MK, "_data"))
    common = types.ModuleType("mergekit.common")
    common.__dict__.update(torch=torch, PretrainedConfig=PretrainedConfig, Optional=typing.Optional, Any=typing.Any, Union=typing.Union)
    exec_defs("common.py", ["set_config_value", "get_config_value", "dtype_from_name"], common.__dict__)
    common.ModelReference = ModelReference
    common.ImmutableMap = ImmutableMap
    sys.modules["mergekit.common"] = common

    graph = types.ModuleType("mergekit.graph")
    T = typing.TypeVar("T")

    class Task(ABC, BaseModel, typing.Generic[T]):
        def arguments(self):
            return {}

        def execute(self, **kwargs):
            raise NotImplementedError

        def priority(self):
            return 0

        def group_label(self):
            return None

        def uses_accelerator(self):
            return False

        def main_thread_only(self):
            return False

        def duplicate_per_gpu(self):
            return False

    graph.Task = Task
    sys.modules["mergekit.graph"] = graph

    arch_pkg = package("mergekit.architecture", os.path.join(MK, "architecture"))
    import mergekit.architecture.base as arch_base  # the real file, on the stubs above

    arch_pkg.__dict__.update({k: getattr(arch_base, k) for k in dir(arch_base) if not k.startswith("__")})
    arch_pkg.ConfiguredModelArchitecture = arch_base.ConfiguredModelArchitecture

    tok = package("mergekit.tokenizer")
    tok.BuildTokenizer = tok.PermutedEmbeddings = type("TokenizerTask", (Task,), {})
    tok_cfg = types.ModuleType("mergekit.tokenizer.config")
    tok_cfg.TokenizerConfig = type("TokenizerConfig", (BaseModel,), {})
    sys.modules["mergekit.tokenizer.config"] = tok_cfg

    options = types.ModuleType("mergekit.options")
    options.MergeOptions = type("MergeOptions", (BaseModel,), {})
    sys.modules["mergekit.options"] = options

    io_pkg = package("mergekit.io")
    io_tasks = types.ModuleType("mergekit.io.tasks")

    class Index:
        def __init__(self, names):
            self.tensor_paths = {n: "model.safetensors" for n in names}

    class Loader:
        def __init__(self, model):
            files = sorted(f for f in os.listdir(model.path) if f.endswith(".safetensors"))
            self.tensors = {}
            for f in files:
                self.tensors.update(read_safetensors(os.path.join(model.path, f)))
            self.index = Index(self.tensors)

        def get_tensor(self, name, device="cpu"):
            return self.tensors[name].clone()

    class LoaderCache:
        loaders = {}

        def get(self, model):
            if model not in self.loaders:
                self.loaders[model] = Loader(model)
            return self.loaders[model]

    ns = io_tasks.__dict__
    ns.update(
        Task=Task, torch=torch, Optional=typing.Optional, Dict=typing.Dict, Tuple=typing.Tuple,
        ImmutableMap=ImmutableMap, ModelReference=ModelReference, WeightInfo=arch_base.WeightInfo,
        dtype_from_name=common.dtype_from_name, LoaderCache=LoaderCache, LazyTensorLoader=Loader,
        convert_checkpoint_tensors=lambda *_a, **_k: None,
    )
    exec_defs("io/tasks.py", ["LoadTensor", "GatherTensors", "ReturnTensor"], ns)
    for name in ("FinalizeModel", "SaveTensor", "TensorWriterTask"):
        ns[name] = type(name, (Task,), {})
    sys.modules["mergekit.io.tasks"] = io_tasks
    io_pkg.tasks = io_tasks

    import mergekit.config as mk_config
    import mergekit.merge_methods as mk_methods
    import mergekit.plan as mk_plan

    merge_ns = {"transformers": transformers, "ModelArchitecture": arch_base.ModelArchitecture, "MergeConfiguration": mk_config.MergeConfiguration,
                "set_config_value": common.set_config_value, "LOG": __import__("logging").getLogger("mergekit")}
    exec_defs("merge.py", ["_model_out_config"], merge_ns)
    return types.SimpleNamespace(config=mk_config, plan=mk_plan, methods=mk_methods, arch=arch_base, model_out_config=merge_ns["_model_out_config"], io=io_tasks)


# ------------------------------------------------------------------ architectures (mergekit's JSON data)


def load_architectures(mk):
    """mergekit/_data/architectures/*.json → {architecture class name: ModelArchitecture}. Mirrors
    architecture/json_definitions.py's JsonModuleArchitecture (single-module definitions)."""
    import string

    WeightInfo = mk.arch.WeightInfo

    class Template(string.Template):
        idpattern = r"(?a:[_a-z][_a-z0-9]*([+-]1)?)"

    def subst(s, num_layers, idx):
        if not isinstance(s, str) or "{" not in s:
            return s
        sub = {"num_layers": num_layers, "num_layers+1": num_layers + 1, "num_layers-1": num_layers - 1}
        if idx is not None:
            sub.update({"layer_index": idx, "layer_index+1": idx + 1, "layer_index-1": idx - 1})
        return Template(s).substitute(sub)

    def weight(d, num_layers, idx):
        kw = {}
        for k, v in d.items():
            if k not in ("name", "is_embed", "optional", "aliases", "force_dtype", "tied_names"):
                continue
            if isinstance(v, list):
                # a list, not pydantic's tuple: plan.py's `[w_in.name] + (w_in.aliases or [])` raises a TypeError
                # on a tuple (mergekit at a6e4028 fails every BERT merge on the optional, aliased
                # embeddings.position_ids); the suite compares merge semantics, so it steps over that bug
                v = [subst(x, num_layers, idx) for x in v]
            else:
                v = subst(v, num_layers, idx)
            kw[k] = v
        return WeightInfo(**kw)

    class JsonModule(mk.arch.ModuleArchitecture):
        def __init__(self, d):
            self.d = d

        def num_layers_config_key(self):
            return self.d.get("num_layers_config_key")

        def num_layers(self, config):
            if self.d.get("override_num_layers") is not None:
                return self.d["override_num_layers"]
            return super().num_layers(config)

        def pre_weights(self, config):
            return [weight(w, self.num_layers(config), None) for w in self.d["pre_weights"]]

        def post_weights(self, config):
            return [weight(w, self.num_layers(config), None) for w in self.d["post_weights"]]

        def layer_weights(self, index, config):
            return [weight(w, self.num_layers(config), index) for w in self.d["layer_templates"]["weights"]]

    out = {}
    adir = os.path.join(MK, "_data", "architectures")
    for f in sorted(os.listdir(adir)):
        if not f.endswith(".json"):
            continue
        d = json.load(open(os.path.join(adir, f)))
        if d.get("kind", "module") != "module":
            continue
        arch = mk.arch.ModelArchitecture(
            modules={"default": mk.arch.ModuleDefinition(architecture=JsonModule(d), weight_prefix=None)},
            architectures=d["architectures"], model_type=d["model_type"],
        )
        for a in d["architectures"]:
            out.setdefault(a, arch)
    return out


# ------------------------------------------------------------------ config parsing (what pydantic would build)


def setting(v, C):
    """A ParameterSetting: a scalar, a gradient list, a ConditionalParameter or a list of them."""
    if isinstance(v, dict):
        return C.ConditionalParameter(value=v["value"], filter=v.get("filter"))
    if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
        return [C.ConditionalParameter(value=e["value"], filter=e.get("filter")) for e in v]
    return v


def params(d, C):
    if d is None:
        return None
    return {k: setting(v, C) for k, v in d.items()}


def build_config(doc, C):
    def model_def(m):
        return C.InputModelDefinition(model=ModelReference(m["model"]), parameters=params(m.get("parameters"), C))

    def slice_def(s):
        return C.OutputSliceDefinition(
            sources=[C.InputSliceDefinition(model=ModelReference(x["model"]), layer_range=tuple(x["layer_range"]), parameters=params(x.get("parameters"), C)) for x in s["sources"]],
            base_model=ModelReference(s["base_model"]) if s.get("base_model") else None,
            residual_weight=s.get("residual_weight"),
            parameters=params(s.get("parameters"), C),
        )

    def module_def(m):
        return C.OutputModuleDefinition(
            models=[model_def(x) for x in m["models"]] if m.get("models") else None,
            slices=[slice_def(x) for x in m["slices"]] if m.get("slices") else None,
            parameters=params(m.get("parameters"), C),
        )

    cfg = C.MergeConfiguration(
        modules={k: module_def(v) for k, v in doc["modules"].items()} if doc.get("modules") else None,
        slices=[slice_def(s) for s in doc["slices"]] if doc.get("slices") else None,
        models=[model_def(m) for m in doc["models"]] if doc.get("models") else None,
        merge_method=doc["merge_method"],
        base_model=ModelReference(doc["base_model"]) if doc.get("base_model") else None,
        dtype=doc.get("dtype"),
        tokenizer_source=None,
        tokenizer=None,
        chat_template=None,
        out_dtype=doc.get("out_dtype"),
        parameters=params(doc.get("parameters"), C),
    )
    cfg.validate_inputs()
    return cfg


def evaluate(task, memo):
    if id(task) in memo:
        return memo[id(task)][1]
    args = {k: evaluate(v, memo) for k, v in task.arguments().items()}
    value = task.execute(**args)
    memo[id(task)] = (task, value)
    return value


class StableSorts:
    """torch, with argsort/sort stable: ties in magnitude broken by index (lowest first when descending)."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def argsort(x, dim=-1, descending=False):
        return torch.sort(x, dim=dim, descending=descending, stable=True).indices

    @staticmethod
    def sort(x, dim=-1, descending=False):
        return torch.sort(x, dim=dim, descending=descending, stable=True)


def run_config(mk, archs, cfg_path, rules=False):
    """Run one config file: one document, or several (mergekit-multi: scripts/multimerge.py's load_config and
    patched_config, run here in dependency order, each named merge written to a temporary directory and read
    back by the merges that name it, as mergekit-multi's intermediate directory)."""
    with open(cfg_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if len(docs) == 1:
        return run_doc(mk, archs, docs[0], rules)
    import shutil
    import tempfile

    names = {d["name"]: d for d in docs if "name" in d}
    inter = tempfile.mkdtemp(prefix="mk-multi-", dir=".")

    def patch(v):
        if isinstance(v, list):
            return [patch(x) for x in v]
        if isinstance(v, dict):
            return {k: patch(x) for k, x in v.items()}
        if isinstance(v, str) and v in names:
            return os.path.join(inter, v)
        return v

    done, result = set(), None
    try:
        def run(d):
            nonlocal result
            name = d.get("name")
            if name in done:
                return
            body = {k: v for k, v in d.items() if k != "name"}
            for dep in sorted({x for x in _strings(body) if x in names}):
                run(names[dep])
            res = run_doc(mk, archs, patch(body), rules)
            if name is None:
                result = res
            else:
                _method, tensors, _tied, _out, out_cfg = res
                os.makedirs(os.path.join(inter, name))
                write_safetensors(os.path.join(inter, name, "model.safetensors"), tensors)
                with open(os.path.join(inter, name, "config.json"), "w") as f:
                    json.dump(out_cfg.to_dict(), f)
                done.add(name)

        for d in docs:
            run(d)
    finally:
        shutil.rmtree(inter, ignore_errors=True)
    if result is None:
        raise SystemExit(f"{cfg_path}: the suite compares the unnamed (final) merge of a multi-document config")
    return result


def _strings(v):
    if isinstance(v, list):
        for x in v:
            yield from _strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, str):
        yield v


def run_doc(mk, archs, doc, rules=False):
    """Run one config with mergekit's planner and merge methods. rules: the same merge under the rules
    mergelab documents — computed in float32 (inputs upcast exactly, the result cast to the config's output
    dtype once, at the end) and magnitude ties broken by index (torch's argsort leaves their order
    unspecified) — to check that a difference is only those rules."""
    sparsify = sys.modules["mergekit.sparsify"]
    sparsify.torch = StableSorts() if rules else torch
    compute_f32 = rules
    if compute_f32:
        out = doc.get("out_dtype") or doc.get("dtype")
        doc = dict(doc, dtype="float32", out_dtype=out)
    cfg = build_config(doc, mk.config)
    body = next(iter(cfg.modules.values())) if cfg.modules else cfg
    first = cfg.base_model or (body.models[0].model if body.models else body.slices[0].sources[0].model)
    first_cfg = first.config()
    arch = archs[first_cfg.architectures[0]]
    out_cfg = mk.model_out_config(cfg, arch)
    planner = mk.plan.MergePlanner(cfg, arch, types.SimpleNamespace(trust_remote_code=False, device="cpu", read_to_gpu=False), out_cfg)
    torch.manual_seed(0)
    tensors, tied = {}, []
    memo = {}
    for rt in planner.plan_in_memory():
        value = evaluate(rt, memo)
        if value is None:
            continue
        tensors[rt.weight_info.name] = value
        if rt.weight_info.tied_names:
            loader = mk.io.LoaderCache()
            models = [s.model for s in (cfg.modules["default"].slices[-1].sources)]
            if all(rt.weight_info.name not in loader.get(m).index.tensor_paths for m in models):
                tied.append(rt.weight_info.name)
    key = arch.modules["default"].architecture.num_layers_config_key()
    # config.json is the base model's, else that of referenced_models()[0], the first of a set(): mergekit's
    # own choice is then arbitrary, so torch_dtype is only recorded when it is deterministic
    deterministic = bool(doc.get("base_model") or doc.get("dtype") or doc.get("out_dtype"))
    out = {key: getattr(out_cfg, key), "torch_dtype": getattr(out_cfg, "torch_dtype", None) if deterministic else None}
    return doc["merge_method"], tensors, tied, out, out_cfg


def mergekit_commit():
    try:
        return subprocess.run(["git", "-C", MK_SRC, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return os.environ.get("MERGEKIT_COMMIT", "unknown")


def inputs_digest(models_dir):
    """sha256 over every generated file (sorted relative path + bytes): the test checks it regenerated these inputs."""
    import hashlib

    h = hashlib.sha256()
    for root, _dirs, files in sorted(os.walk(models_dir)):
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, models_dir).replace(os.sep, "/").encode() + b"\0")
            h.update(open(p, "rb").read())
    return h.hexdigest()


def main(argv):
    if "--out" not in argv:
        sys.exit(__doc__)
    i = argv.index("--out")
    out_dir = os.path.abspath(argv[i + 1])
    rest = argv[:i] + argv[i + 2:]
    models_dir, configs = rest[0], [os.path.abspath(c) for c in rest[1:]]
    mk = install_mergekit()
    archs = load_architectures(mk)
    os.makedirs(out_dir, exist_ok=True)
    exp_path = os.path.join(out_dir, "expected.json")
    expected = json.load(open(exp_path)) if os.path.exists(exp_path) else {"configs": {}}
    expected["mergekit_commit"] = os.environ.get("MERGEKIT_COMMIT") or mergekit_commit()
    expected["torch"] = torch.__version__
    expected["harness_notes"] = [
        "WeightInfo aliases/tied_names are lists, not tuples: mergekit's plan.py concatenates a list and them "
        "(a TypeError on every BERT merge at this commit, from the optional aliased embeddings.position_ids)",
    ]
    expected["inputs_sha256"] = inputs_digest(models_dir)
    os.chdir(models_dir)
    for c in configs:
        name = os.path.splitext(os.path.basename(c))[0]
        rec = {}
        try:
            method, tensors, tied, out_cfg, _cfg = run_config(mk, archs, c)
        except Exception as e:  # mergekit itself refuses the config
            rec = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: mergekit refuses: {rec['error']}")
        else:
            write_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors)
            rec = {"method": method, "tensors": len(tensors), "dtypes": sorted({ST_DTYPE[t.dtype] for t in tensors.values()}), "tied_copies": tied, "config": out_cfg}
            print(f"{name}: {method}: {len(tensors)} tensors {rec['dtypes']}")
            _m, t_rules, _t, _c, _cfg = run_config(mk, archs, c, rules=True)
            if any(not torch.equal(t_rules[k], tensors[k]) for k in tensors):
                write_safetensors(os.path.join(out_dir, name + ".rules.safetensors"), t_rules)
                rec["rules_variant"] = True
        expected["configs"][name] = rec
    expected["configs"] = dict(sorted(expected["configs"].items()))
    with open(exp_path, "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
