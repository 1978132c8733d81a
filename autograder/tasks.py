"""The grading tasks that run inside the sandboxed child, next to the student's code.

Each task takes a payload (plain tensors and values made by the grader) and returns plain tensors:
it imports the student's module from the child's working directory, builds the graded class with
its given constructor, swaps the class's sub-modules for public stand-ins (torch's layers, or a
probe) carrying the same weights, loads the weights, runs forward and backward, and hands back the
outputs and gradients. Nothing here is compared or scored: the grader does that in its own process,
so whatever happens in this process can only cost points, never earn them.

This file ships with the handout. It holds no implementation of any graded part: the stand-ins are
torch's own layers (``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``, ``nn.Sequential``) and
probes (one dense layer in place of the patch embedding, a fixed table that multiplies the tokens).
"""
from __future__ import annotations

import importlib
import sys
import traceback
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

LAYER_NORM_EPS = 1e-6  # the contract's LayerNorm epsilon (DESIGN.md §4)
GRAD_SUMMARY_NUMEL = 4096  # gradients larger than this come back as a fixed sample plus sum and norm
TRACEBACK_CHARS = 4096  # one traceback sent back (a student's exception message can be megabytes)


class ScaleProbe(nn.Module):
    """A stand-in for the position embedding: multiplies the tokens by a fixed [1, T, D] table.

    It is not the graded layer (that one adds): it only makes every token position distinguishable,
    so a module that feeds it the wrong tensor, or drops it, gives a different output.

    Args:
        num_tokens: sequence length T.
        embed_dim: token width D.
    """

    def __init__(self, num_tokens: int, embed_dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(1, num_tokens, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class SelfAttention(nn.Module):
    """A stand-in for a self-attention layer: torch's ``nn.MultiheadAttention`` called on (x, x, x)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor, **_: Any) -> torch.Tensor:  # timm's Block passes attn_mask=None
        return self.mha(x, x, x, need_weights=False)[0]


def make_part(kind: str, kw: dict) -> nn.Module:
    """A stand-in for a graded sub-module, built from torch's own layers (no timm: the child then
    starts with nothing heavier than torch).

    The grader builds the same stand-in for its reference, so only the graded class's own code
    differs between the two sides.

    Args:
        kind: ``attention``, ``mlp``, ``block``, ``patch_embed``, ``scale_probe`` or ``probe_encoder``.
        kw: sizes (``embed_dim``, ``num_heads``, ``mlp_dim``, ``dropout``, ``attn_dropout``,
            ``img_size``, ``patch_size``, ``in_chans``, ``num_tokens``, ``depth``).
    """
    d = kw["embed_dim"]
    if kind == "attention":
        return SelfAttention(d, kw["num_heads"], kw.get("attn_dropout", 0.0))
    if kind == "mlp":  # the same names as the handout's MlpBlock, run in order by nn.Sequential
        p = kw.get("dropout", 0.0)
        return nn.Sequential(OrderedDict(fc1=nn.Linear(d, kw["mlp_dim"]), act=nn.GELU(), drop1=nn.Dropout(p),
                                         fc2=nn.Linear(kw["mlp_dim"], d), drop2=nn.Dropout(p)))
    if kind == "block":  # torch's pre-LN transformer layer
        return nn.TransformerEncoderLayer(d, kw["num_heads"], dim_feedforward=kw["mlp_dim"],
                                          dropout=kw.get("dropout", 0.0), activation="gelu",
                                          layer_norm_eps=LAYER_NORM_EPS, batch_first=True, norm_first=True)
    if kind == "patch_embed":  # images -> [B, N, D] through one dense layer (a probe, not a patch embedding)
        img = kw["img_size"]
        h, w = (img, img) if isinstance(img, int) else img
        n = (h // kw["patch_size"]) * (w // kw["patch_size"])
        part = nn.Sequential(OrderedDict(flatten=nn.Flatten(1), proj=nn.Linear(kw["in_chans"] * h * w, n * d),
                                         tokens=nn.Unflatten(1, (n, d))))
        part.num_patches = n
        return part
    if kind == "scale_probe":
        return ScaleProbe(kw["num_tokens"], d)
    if kind == "probe_encoder":
        parts = [make_part("scale_probe", kw)] + [make_part("block", kw) for _ in range(kw["depth"])]
        return nn.Sequential(*parts, nn.LayerNorm(d, eps=LAYER_NORM_EPS))
    raise ValueError(f"unknown part kind {kind!r}")


def set_submodule(model: nn.Module, path: str, part: nn.Module) -> None:
    """Replaces ``model.<path>`` (dotted; list indices allowed) by ``part``."""
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if name not in parent._modules:
        raise AttributeError(
            f"{type(model).__name__} has no sub-module '{path}'. The constructor you were given "
            f"creates it: keep the constructor as it was handed out."
        )
    parent._modules[name] = part


def materialize(spec: Any, out: torch.Tensor | None = None) -> torch.Tensor:
    """A tensor from its spec: the tensor itself, or ``{"seed", "shape", "std"}`` made from a
    seeded normal (used for weights too large to send); written into ``out`` when given.

    A seeded random row of 4099 (prime) values tiled over the tensor is as telling as i.i.d. noise
    for comparing two implementations, and costs one copy instead of 57M random draws (AlexNet).
    """
    if isinstance(spec, torch.Tensor):
        return spec if out is None else out.copy_(spec)
    gen = torch.Generator().manual_seed(int(spec["seed"]))
    base = torch.randn(4099, generator=gen, dtype=torch.float64) * float(spec["std"])
    if out is None:
        out = torch.empty(spec["shape"], dtype=torch.float64)
    flat = out.view(-1)  # (numel,)
    period = base.numel()
    rows = flat.numel() // period
    flat[:rows * period].view(rows, period).copy_(base.expand(rows, period))  # (rows, 4099): one write pass
    flat[rows * period:] = base[:flat.numel() - rows * period]
    return out


_INSTALLED: dict[str, tuple[Any, str, Any]] = {}  # trapped name -> (owner, attribute, original)
_RECORDING: dict[str, Any] = {"names": frozenset(), "calls": None}


def _resolve(name: str) -> tuple[Any, str, Any] | None:
    owner_path, _, attr = name.rpartition(".")
    try:
        owner = importlib.import_module(owner_path)
    except ImportError:
        try:
            mod_path, _, cls_name = owner_path.rpartition(".")
            owner = getattr(importlib.import_module(mod_path), cls_name)
        except (ImportError, AttributeError, ValueError):
            return None
    target = getattr(owner, attr, None)
    if target is None:
        return None
    if isinstance(target, type):  # a class is trapped through its forward
        owner, attr, target = target, "forward", target.forward
    return owner, attr, target


def _install(name: str) -> None:
    """Wraps ``name`` for the rest of the process, so that a reference the student's module took at
    import time (``from torch.nn.functional import ...``) is the wrapper too."""
    if name in _INSTALLED:
        return
    found = _resolve(name)
    if found is None:
        return
    owner, attr, original = found

    def trapped(*args: Any, **kwargs: Any) -> Any:
        if _RECORDING["calls"] is not None and name in _RECORDING["names"]:
            _RECORDING["calls"].append(name)
        return original(*args, **kwargs)

    setattr(owner, attr, trapped)
    _INSTALLED[name] = found


@contextmanager
def trap_calls(names: list[str]) -> Iterator[list[str]]:
    """Records calls to the named functions or classes (dotted paths) while active.

    The wrappers stay installed for the life of the process (they only record while a
    ``trap_calls`` naming them is active); names that do not resolve are skipped.

    Args:
        names: e.g. ``torch.nn.functional.scaled_dot_product_attention``; a class is trapped
            through its ``forward``.
    """
    calls: list[str] = []
    for name in names:
        _install(name)
    _RECORDING.update(names=frozenset(names), calls=calls)
    try:
        yield calls
    finally:
        _RECORDING.update(names=frozenset(), calls=None)


def cut_text(text: str, limit: int = TRACEBACK_CHARS, what: str = "traceback") -> str:
    """``text`` with lone surrogates made U+FFFD and at most about ``limit`` characters: the head
    (two thirds) and the tail (one third) around a line saying how much was cut.

    The child's own cap, so megabytes never cross the channel; the grader caps again in bytes
    (``autograder.results.cap_text``), since this module imports nothing of the grader's.
    """
    if len(text) > limit:
        head, tail = text[: limit * 2 // 3], text[len(text) - limit // 3:]
        text = f"{head}\n... [{len(text) - len(head) - len(tail):,} characters of this {what} cut] ...\n{tail}"
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def student_traceback(exc: BaseException, files: list[str], limit: int = TRACEBACK_CHARS) -> str:
    """The traceback trimmed to the student's files (the grader's own frames left out), with the
    middle of a long message cut to about ``limit`` characters (``cut_text``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    cwd = str(Path.cwd())
    keep = [f for f in frames if any(f.filename.endswith(name) for name in files)]
    lines = ["Traceback (your code):"] if keep else []
    for f in keep:
        shown = f.filename[len(cwd) + 1:] if f.filename.startswith(cwd + "/") else Path(f.filename).name
        lines.append(f'  File "{shown}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line}")
    try:
        lines.extend(traceback.format_exception_only(type(exc), exc))
    except Exception:  # noqa: BLE001 - a __str__ that raises still gets its type named
        lines.append(f"{type(exc).__name__}: <the exception's message could not be printed>")
    return cut_text("\n".join(line.rstrip("\n") for line in lines), limit)


def _grad_out(t: torch.Tensor | None) -> Any:
    """A gradient as sent back: whole when small, else a fixed sample plus its sum and norm."""
    if t is None:
        return None
    t = t.detach()
    if t.numel() <= GRAD_SUMMARY_NUMEL:
        return t
    return summarize(t)


def summarize(t: torch.Tensor) -> dict:
    """A large tensor's fingerprint: a fixed sample of 1024 entries, the sum and the norm."""
    flat = t.detach().reshape(-1)  # (numel,)
    idx = torch.randint(flat.numel(), (1024,), generator=torch.Generator().manual_seed(0))
    return {"sample": flat[idx].clone(), "sum": flat.sum(), "norm": flat.norm(), "shape": list(t.shape)}


def _own_tensors(module: nn.Module) -> tuple[list[tuple[str, torch.Tensor]], list[tuple[str, torch.Tensor]]]:
    """A module's own parameters and floating buffers (not its children's), in registration order."""
    params = list(module.named_parameters(recurse=False))
    buffers = [(n, b) for n, b in module.named_buffers(recurse=False) if b.is_floating_point()]
    return params, buffers


def trace_layers(model: nn.Module, inputs: list[torch.Tensor]) -> list[dict]:
    """The model's layers (modules owning parameters or floating buffers) and how they are used.

    One forward pass in eval mode, without gradients, with hooks on every such module. The same
    function describes the reference (in the grader) and the student's module (in the child), so
    weights can be matched by role instead of by the order ``__init__`` created them in.

    Args:
        model: the module (its weights may be uninitialised: only the calls are recorded).
        inputs: the forward's inputs.

    Returns:
        One dict per layer: ``name`` (dotted path), ``params`` and ``buffers`` (``[local name,
        shape]`` in registration order), ``rank`` (the order of its first call; None if it never
        ran) and ``pred`` (the layer whose output it was first called on, or None).
    """
    layers, hooks, produced, kept = {}, [], {}, []
    for name, module in model.named_modules():
        params, buffers = _own_tensors(module)
        if not params and not buffers:
            continue
        layers[name] = {"name": name, "params": [[n, list(t.shape)] for n, t in params],
                        "buffers": [[n, list(t.shape)] for n, t in buffers], "rank": None, "pred": None}

        def pre(mod, args, name=name):
            info = layers[name]
            if info["rank"] is None:
                info["rank"] = sum(v["rank"] is not None for v in layers.values())
                first = next((a for a in args if isinstance(a, torch.Tensor)), None)
                info["pred"] = produced.get(id(first)) if first is not None else None

        def post(mod, args, out, name=name):
            if isinstance(out, torch.Tensor):
                produced[id(out)] = name
                kept.append(out)  # keeps the id from being reused during the trace

        hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*[x.detach().clone() for x in inputs])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return list(layers.values())


def tensor_use_order(model: nn.Module, inputs: list[torch.Tensor]) -> list[str]:
    """The model's parameters and floating buffers (dotted names) that a forward pass (eval mode,
    no gradients) hands to a torch function, in the order of their first use. It sees functional
    code too (``F.conv2d(x, self.w)``), where module hooks see nothing.

    Args:
        model: the module.
        inputs: the forward's inputs.
    """
    from torch.overrides import TorchFunctionMode

    by_id = {id(t): n for n, t in model.named_parameters()}
    by_id.update((id(b), n) for n, b in model.named_buffers() if b.is_floating_point())
    seen: dict[str, None] = {}

    class Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            for a in list(args) + list((kwargs or {}).values()):
                for t in (a if isinstance(a, (list, tuple)) else (a,)):
                    if isinstance(t, torch.Tensor) and id(t) in by_id:
                        seen.setdefault(by_id[id(t)])
            return func(*args, **(kwargs or {}))

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), Record():
            model(*[x.detach().clone() for x in inputs])
    finally:
        model.train(was_training)
    return list(seen)


def match_tensors(ref: dict[str, list], ref_order: list[str], got: dict[str, list],
                  got_order: list[str]) -> dict[str, str]:
    """Pairs tensors by shape, and among tensors of the same shape by the order they are first used:
    the fallback of ``match_layers`` for weights that no single layer holds (functional code).

    Args:
        ref: reference name -> shape.
        ref_order: the reference's names in order of first use (``tensor_use_order``).
        got: the student's name -> shape.
        got_order: the student's names in order of first use.

    Returns:
        reference name -> the student's name.

    Raises:
        _ShapeMismatch: the shapes differ.
        AmbiguousLayers: same-shaped tensors of which one is never used.
    """
    from collections import Counter

    if Counter(tuple(s) for s in ref.values()) != Counter(tuple(s) for s in got.values()):
        raise _ShapeMismatch(list(got.values()), [])
    rank = {n: i for i, n in enumerate(got_order)}
    pairs: dict[str, str] = {}
    for shape in {tuple(s) for s in ref.values()}:
        want = sorted((n for n in ref if tuple(ref[n]) == shape), key=lambda n: ref_order.index(n)
                      if n in ref_order else len(ref_order))
        have = [n for n in got if tuple(got[n]) == shape]
        idle = [n for n in have if n not in rank]
        if idle and len(have) > 1:
            raise AmbiguousLayers(
                f"your tensors {', '.join(have)} all have shape {list(shape)} and {', '.join(idle)} never "
                f"took part in forward, so which one plays which role cannot be told. Use every weight you "
                f"create in forward (or remove the unused one).")
        have.sort(key=lambda n: rank.get(n, len(rank)))
        pairs.update(zip(want, have))
    return pairs


class AmbiguousLayers(Exception):
    """The student's layers cannot be matched to the reference's one to one (a clear message)."""


def _signature(layer: dict) -> tuple:
    return (tuple(tuple(s) for _, s in layer["params"]), tuple(tuple(s) for _, s in layer["buffers"]))


def match_layers(ref: list[dict], got: list[dict]) -> dict[str, str]:
    """Pairs each reference layer with the student's layer in the same role.

    Layers pair when their parameter and buffer shapes agree; among layers of the same shapes, by
    where their input comes from (a batch norm after its own convolution), and then by the order
    they first ran in (data flow fixes it: conv1 always runs before conv2). The order ``__init__``
    created them in never matters.

    Args:
        ref: ``trace_layers`` of the reference.
        got: ``trace_layers`` of the student's module.

    Returns:
        reference layer name -> the student's layer name.

    Raises:
        _ShapeMismatch: the shapes differ (a layer missing, extra or of another size).
        AmbiguousLayers: layers of the same shapes that never ran, so their role is unknown.
    """
    from collections import Counter

    if Counter(map(_signature, ref)) != Counter(map(_signature, got)):
        raise _ShapeMismatch([s for layer in got for _, s in layer["params"]],
                             [s for layer in got for _, s in layer["buffers"]])
    groups: dict[tuple, tuple[list[dict], list[dict]]] = {}
    for layer in ref:
        groups.setdefault(_signature(layer), ([], []))[0].append(layer)
    for layer in got:
        groups[_signature(layer)][1].append(layer)
    pairs: dict[str, str] = {}
    for want, have in groups.values():
        if len(want) == 1:
            pairs[want[0]["name"]] = have[0]["name"]
    while len(pairs) < len(ref):
        progress = False
        for want, have in groups.values():  # by where the input comes from
            free = [g for g in have if g["name"] not in pairs.values()]
            for w in [w for w in want if w["name"] not in pairs]:
                if w["pred"] is None or w["pred"] not in pairs:
                    continue
                hits = [g for g in free if g["pred"] == pairs[w["pred"]]]
                if len(hits) == 1:
                    pairs[w["name"]] = hits[0]["name"]
                    free.remove(hits[0])
                    progress = True
        if progress:
            continue
        open_groups = [(w, h) for w, h in groups.values() if any(x["name"] not in pairs for x in w)]
        want, have = min(open_groups, key=lambda g: min(x["rank"] if x["rank"] is not None else 1 << 30
                                                        for x in g[0] if x["name"] not in pairs))
        want = sorted((w for w in want if w["name"] not in pairs), key=lambda x: (x["rank"] is None, x["rank"]))
        have = [g for g in have if g["name"] not in pairs.values()]
        idle = [g["name"] for g in have if g["rank"] is None]
        if idle and len(have) > 1:
            shapes = [s for _, s in have[0]["params"]]
            raise AmbiguousLayers(
                f"your layers {', '.join(g['name'] for g in have)} all have parameter shapes {shapes} and "
                f"{', '.join(idle)} never ran in forward, so which one plays which role cannot be told. "
                f"Use every layer you create in forward (or remove the unused one).")
        have.sort(key=lambda x: x["rank"])
        for w, g in zip(want, have):  # by the order they first ran in
            pairs[w["name"]] = g["name"]
    return pairs


def _fill_known(model: nn.Module) -> None:
    """Known values for a trace on real tensors (the storage may be uninitialised)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)
        for b in model.buffers():
            if b.is_floating_point():
                b.fill_(1.0)


def _load_matched(model: nn.Module, spec: dict, inputs: list[torch.Tensor],
                  traced: list[dict] | None = None) -> dict[str, str]:
    """Copies the grader's tensors into ``model``, layer by matched layer (``match_layers``).

    Args:
        traced: ``trace_layers`` of ``model`` made already (on the meta device, ``_meta_traced``);
            None: traced here, on known values.

    Returns:
        reference parameter name -> the student's parameter name (for comparing gradients).
    """
    if traced is None:
        _fill_known(model)
    try:
        pairs = match_layers(spec["layers"], traced if traced is not None else trace_layers(model, inputs))
    except _ShapeMismatch:
        if "uses" not in spec:
            raise
        if traced is not None:
            _fill_known(model)  # the tensor fallback traces values
        return _load_by_tensor(model, spec, inputs)
    modules = dict(model.named_modules())
    names: dict[str, str] = {}
    with torch.no_grad():
        for layer in spec["layers"]:
            theirs = pairs[layer["name"]]
            params, buffers = _own_tensors(modules[theirs])
            for (ref_local, _), (local, p) in zip(layer["params"], params):
                ref_name = f"{layer['name']}.{ref_local}".lstrip(".")
                materialize(spec["params"][ref_name], out=p)
                p.requires_grad_(p.numel() <= spec.get("grad_numel_max", 1 << 62))
                names[ref_name] = f"{theirs}.{local}".lstrip(".")
            for (ref_local, _), (_, b) in zip(layer["buffers"], buffers):
                materialize(spec["buffers"][f"{layer['name']}.{ref_local}".lstrip(".")], out=b)
    return names


def _load_by_tensor(model: nn.Module, spec: dict, inputs: list[torch.Tensor]) -> dict[str, str]:
    """``_load_matched``'s fallback: tensor by tensor (``match_tensors``), when the layers differ
    from the reference's but the tensors' shapes agree (weights held outside one-layer modules).
    Raises ``_ShapeMismatch`` with the layer view when the shapes differ too."""
    shape = lambda v: list(v.shape) if isinstance(v, torch.Tensor) else list(v["shape"])  # noqa: E731
    ref = {n: shape(v) for part in ("params", "buffers") for n, v in spec[part].items()}
    params = dict(model.named_parameters())
    tensors = {**params, **{n: b for n, b in model.named_buffers() if b.is_floating_point()}}
    try:
        pairs = match_tensors(ref, spec["uses"], {n: list(t.shape) for n, t in tensors.items()},
                              tensor_use_order(model, inputs))
    except _ShapeMismatch:
        raise _ShapeMismatch([list(p.shape) for p in params.values()],
                             [list(t.shape) for n, t in tensors.items() if n not in params]) from None
    names: dict[str, str] = {}
    with torch.no_grad():
        for ref_name, theirs in pairs.items():
            source = spec["params"].get(ref_name, spec["buffers"].get(ref_name))
            materialize(source, out=tensors[theirs])
            if ref_name in spec["params"]:
                if theirs not in params:
                    raise _ShapeMismatch([list(p.shape) for p in params.values()], [])
                params[theirs].requires_grad_(params[theirs].numel() <= spec.get("grad_numel_max", 1 << 62))
                names[ref_name] = theirs
    return names


class _ShapeMismatch(Exception):
    def __init__(self, params: list, buffers: list) -> None:
        super().__init__("parameter shapes differ from the reference")
        self.params, self.buffers = params, buffers


def _build_empty(cls: type, kwargs: dict,
                 trace_inputs: list[torch.Tensor] | None = None) -> tuple[nn.Module | None, list[dict] | None]:
    """The module built on the meta device in float64 and given uninitialised storage, or None
    when the class cannot be built that way (then it is built normally).

    Args:
        trace_inputs: also trace the layers on the meta device first (``_meta_traced``), in float64
            as ``model.double()`` leaves it.

    Returns:
        (the module or None, its ``trace_layers`` or None when not traced).
    """
    default = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        with torch.device("meta"):
            model = cls(**kwargs)
        if any(isinstance(v, torch.Tensor) and v.is_meta for v in vars(model).values()):
            return None, None  # a plain tensor attribute would stay on the meta device
    except Exception:  # noqa: BLE001 - fall back to the ordinary constructor
        return None, None
    finally:
        torch.set_default_dtype(default)
    traced = None
    if trace_inputs is not None and _meta_trace_cheap(model):
        model = model.double()  # as _run_config leaves it before loading the weights
        traced = _meta_traced(model, trace_inputs)
    try:
        return model.to_empty(device="cpu"), traced
    except Exception:  # noqa: BLE001
        return None, None


class _Noticed(TorchDispatchMode):
    """Notes whether any operation that draws random numbers ran (it would advance the generator)."""

    def __init__(self) -> None:
        super().__init__()
        self.random = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if torch.Tag.nondeterministic_seeded in func.tags:
            self.random = True
        return func(*args, **(kwargs or {}))


def _meta_traced(model: nn.Module, inputs: list[torch.Tensor]) -> list[dict] | None:
    """``trace_layers`` of a module built on the meta device, on meta inputs: the layers and how
    they are called, with no pass over the weights (AlexNet's 57M) before they are loaded.

    None where the trace could differ from the one on real values, which then runs as before: the
    forward fails on meta tensors (it reads values, makes tensors on the CPU, ...), draws random
    numbers, prints or warns (what it prints must be what the student sees from the real trace).
    """
    import contextlib
    import io
    import warnings

    out, noticed = io.StringIO(), _Noticed()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                warnings.catch_warnings(record=True) as caught, noticed:
            warnings.simplefilter("always")
            traced = trace_layers(model, [x.detach().to("meta") for x in inputs])
    except Exception:  # noqa: BLE001 - the trace on real values runs instead
        return None
    if noticed.random or caught or out.getvalue():
        return None
    return traced


META_TRACE_NUMEL = 1 << 20  # weights from which the meta trace pays (below, a pass over them costs < 3 ms)


def _meta_trace_cheap(model: nn.Module | None = None) -> bool:
    """Whether a trace on the meta device costs less than the trace on values: the module holds at
    least ``META_TRACE_NUMEL`` weights (the meta kernels cost ~1 ms per layer, whatever its size), and
    torch's meta kernels for convolutions and pooling, Python code that imports ``torch._dynamo`` on
    first use (0.6 s in a fresh child), are loaded (a warm child forked from the grader's server)."""
    if "torch._dynamo" not in sys.modules:
        return False
    return model is None or sum(p.numel() for p in model.parameters()) >= META_TRACE_NUMEL


def _run_config(mod: Any, cls: type, cfg: dict) -> dict:
    torch.manual_seed(cfg.get("seed", 0))
    if cfg.get("meta_count") is not None:  # count parameters without allocating them
        with torch.device("meta"):
            counted = cls(**cfg["meta_count"])
        return {"param_count": sum(p.numel() for p in counted.parameters())}
    model, traced = None, None
    if (cfg.get("meta_init") and "matched" in cfg and not cfg.get("swaps") and not {"state", "timm_state"} & set(cfg)
            and _meta_trace_cheap()):
        # every weight is loaded by matched layer: trace on the meta device before any storage exists
        model, traced = _build_empty(cls, cfg["kwargs"], trace_inputs=cfg["inputs"])
    elif cfg.get("meta_init"):  # every weight is replaced: skip the initialisation (57M draws for AlexNet)
        model, _ = _build_empty(cls, cfg["kwargs"])
    if model is None:
        model = cls(**cfg["kwargs"])
    for path, (kind, kw) in cfg.get("swaps", {}).items():
        set_submodule(model, path, make_part(kind, kw))
    model = model.double()
    if "timm_state" in cfg:  # the whole model, timm's weights through the student's converter
        state = mod.convert_timm_state_dict(dict(cfg["timm_state"]))
        model.load_state_dict(state, strict=True)
    elif "state" in cfg:
        missing, unexpected = model.load_state_dict(cfg["state"], strict=False)
        if missing or unexpected:
            raise KeyError(
                f"the module's parameter names differ from the given constructor's: missing "
                f"{sorted(missing)}, unexpected {sorted(unexpected)}. Keep the constructor as handed out."
            )
    param_map = None
    if "matched" in cfg:
        try:
            param_map = _load_matched(model, cfg["matched"], cfg["inputs"], traced)
        except _ShapeMismatch as e:
            return {"param_shapes": e.params, "buffer_shapes": e.buffers}
        except AmbiguousLayers as e:
            return {"ambiguous": str(e)}
    result = run_model(model, cfg)
    if param_map is not None:
        result["param_map"] = param_map
    return result


def run_model(model: nn.Module, cfg: dict) -> dict:
    """Forward (and the repeats), then backward with the grader's upstream gradient.

    Args:
        model: the module, weights loaded.
        cfg: ``inputs``, ``grad_out``, ``train``, ``repeat``, ``record_order``.

    Returns:
        ``out``, ``repeats``, ``in_grads``, ``param_grads`` (by name), ``param_order``, ``order``
        (the order the direct children ran in, when ``record_order``).
    """
    model.train(bool(cfg.get("train", False)))
    order: list[str] = []
    hooks = []
    if cfg.get("record_order"):
        named = list(model.named_children())
        if "layers" in model._modules:
            named += [(f"layers.{n}", c) for n, c in model.get_submodule("layers").named_children()]
        for name, child in named:
            hooks.append(child.register_forward_pre_hook(lambda m, a, name=name: order.append(name)))
    inputs = [x.clone().requires_grad_(True) for x in cfg["inputs"]]
    try:
        out = model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    result: dict = {"order": order}
    if not isinstance(out, torch.Tensor):
        result["out"] = None
        result["out_type"] = type(out).__name__
        return result
    result["out"] = out.detach().clone()
    for _ in range(int(cfg.get("repeat", 1)) - 1):  # eval mode must be deterministic
        again = model(*[x.detach() for x in inputs])  # with autograd on, as the first run
        result.setdefault("repeats", []).append(again.detach().clone() if isinstance(again, torch.Tensor) else None)
    g = cfg.get("grad_out")
    if g is not None and out.requires_grad and out.shape == g.shape and out.is_floating_point():
        out.backward(g.to(out.dtype))
        result["in_grads"] = [x.grad.detach() if x.grad is not None else None for x in inputs]
        result["param_grads"] = {n: _grad_out(p.grad) for n, p in model.named_parameters() if p.requires_grad}
        result["param_order"] = [n for n, p in model.named_parameters() if p.requires_grad]
    return result


def check_module(payload: dict) -> dict:
    """Task: run one graded class on several configurations.

    Args:
        payload: ``module`` (e.g. ``models.vit``), ``cls``, ``files`` (the student's files, for
            tracebacks), ``trap`` (dotted names whose calls are recorded), ``configs`` (each:
            ``kwargs``, ``swaps``, ``state`` | ``timm_state`` | ``matched``, ``inputs``,
            ``grad_out``, ``train``, ``repeat``, ``seed``; or ``meta_count``).

    Returns:
        ``{"configs": [per-config result or {"error": text}], "calls": [trapped calls]}``.
    """
    files = payload.get("files", [])
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    results: list[dict] = []
    with trap_calls(payload.get("trap", [])) as calls:  # before the import: module-level aliases too
        try:
            mod = importlib.import_module(payload["module"])
            cls = getattr(mod, payload["cls"])
        except Exception as e:  # the student's file fails to import or lacks the class
            return {"import_error": student_traceback(e, files), "import_error_type": type(e).__name__,
                    "configs": [], "calls": []}
        for cfg in payload["configs"]:
            try:
                results.append(_run_config(mod, cls, cfg))
            except Exception as e:  # noqa: BLE001 - any failure of student code is feedback
                results.append({"error": student_traceback(e, files), "error_type": type(e).__name__})
    return {"configs": results, "calls": list(dict.fromkeys(calls))}


def import_probe(payload: dict) -> dict:
    """Task: import one student module, so that a hang or exit at import time is paid once per file.

    Args:
        payload: ``module`` (e.g. ``models.vit``), ``files`` (for tracebacks) and ``trap`` (the
            names later items trap: wrapped before the import, so module-level aliases are wrapped too).

    Returns:
        ``{}`` on success, else ``{"import_error": text}``.
    """
    for name in payload.get("trap", []):
        _install(name)
    try:
        importlib.import_module(payload["module"])
    except Exception as e:  # noqa: BLE001 - reported by the items that need the module
        return {"import_error": student_traceback(e, payload.get("files", []))}
    return {}


TASKS: dict[str, Callable[[dict], dict]] = {"check_module": check_module, "import_probe": import_probe}
# Imported by a fresh child before it reports ready (``autograder.sandbox._runner``), while the
# grader still imports its own stack: what autograd imports on the first backward with a given
# gradient (sympy, about 0.4 s), which would otherwise fall into the first item. The warm server
# imports the same (``autograder.sandbox.zygote.DEFAULT_PRELOAD``), and torch._dynamo besides: a fresh child
# does not pay 0.6 s for it and traces layers on values instead (``_meta_trace_cheap``), to the same bits.
PRELOAD: tuple[str, ...] = ("torch.fx.experimental.symbolic_shapes",)
