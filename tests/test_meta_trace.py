"""The child traces a student's layers on the meta device before any weight storage exists
(``autograder.tasks._meta_traced``), so AlexNet's 57M weights are written once instead of filled,
traced over and written again. Every result must be bit-for-bit the one of the trace on real
values, for the staff solution and every alternative solution, and a forward that cannot be traced
that way (reads values, draws random numbers, prints, warns, makes CPU tensors) takes the old path."""
from __future__ import annotations

import importlib
import sys

import pytest
import torch
import torch._dynamo  # noqa: F401  (loaded, as in a warm child: the meta trace is the cheap one)
from torch import nn

from autograder import tasks
from autograder.grading import cases_for
from autograder.grading.reference import ITEMS
from tests.test_items_support import graft_alternative, handout_text, make_submission, staff_text

SOLUTIONS = [("alexnet/AlexNet", "models/alexnet.py", alt) for alt in
             (None, "alexnet_layers", "alexnet_fc_first", "alexnet_shuffled", "alexnet_functional_params")]
SOLUTIONS += [("resnet/BasicBlock", "models/resnet.py", alt) for alt in
              (None, "resnet_block", "resnet_shortcut_first", "resnet_sequential")]


def _module(tmp_path, rel: str, alt: str | None):
    """The student's module, imported from a submission folder as the child imports it (a fresh
    ``models`` package; the test's own ``models`` modules are put back afterwards)."""
    text = staff_text(rel) if alt is None else graft_alternative(handout_text(staff_text(rel)), alt)
    root = make_submission(tmp_path, {rel: text})
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "models" or k.startswith("models.")}
    path = list(sys.path)
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(rel.removesuffix(".py").replace("/", "."))
    finally:
        for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
            del sys.modules[k]
        sys.modules.update(saved)
        sys.path[:] = path


def _same(a, b, where: str = "result") -> None:
    """Bit-for-bit equality of two results (tensors, dicts, lists, plain values)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _run_both(monkeypatch, mod, cls_name: str, cfg: dict) -> tuple[dict, dict, list]:
    """(the result with the meta trace, the result with the trace on real values, meta traces made)."""
    made = []
    meta_traced = tasks._meta_traced

    def spy(model, inputs):
        made.append(meta_traced(model, inputs))
        return made[-1]

    cls = getattr(mod, cls_name)
    monkeypatch.setattr(tasks, "_meta_traced", spy)
    fast = tasks._run_config(mod, cls, cfg)
    monkeypatch.setattr(tasks, "_meta_traced", lambda model, inputs: None)
    old = tasks._run_config(mod, cls, cfg)
    monkeypatch.setattr(tasks, "_meta_traced", meta_traced)
    return fast, old, made


@pytest.mark.parametrize("item,rel,alt", SOLUTIONS, ids=[f"{i.split('/')[0]}-{a or 'staff'}" for i, _, a in SOLUTIONS])
def test_meta_trace_gives_the_same_bits_as_the_trace_on_values(item, rel, alt, tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "META_TRACE_NUMEL", 0)  # the small ResNet blocks too (they trace on values)
    mod = _module(tmp_path, rel, alt)
    cases = [c for c in cases_for(ITEMS[item]) if "matched" in c.payload]
    assert cases
    for case in cases:
        fast, old, made = _run_both(monkeypatch, mod, ITEMS[item].cls, case.payload)
        assert made and made[0] is not None, "the meta trace should have been used"
        assert "param_map" in fast, fast.get("error") or fast
        _same(fast, old, f"{alt or 'staff'} {case.label}")


class _Net(nn.Module):
    """Two same-shaped layers (matched by the order they run in) and a forward that does ``extra``."""

    extra = staticmethod(lambda x: x)

    def __init__(self):
        super().__init__()
        self.b, self.a = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        return self.b(torch.relu(self.extra(self.a(x))))


def _noisy(extra):
    return type("Noisy", (_Net,), {"extra": staticmethod(extra)})


def _printing(x):
    print("activations", x.sum())
    return x


def _warning(x):
    import warnings

    warnings.warn("careful")
    return x


NOT_ON_META = {
    "prints": _printing,
    "warns": _warning,
    "reads a value": lambda x: x * (2.0 if x.sum().item() > 0 else 1.0),
    "draws random numbers": lambda x: x + 0 * torch.randn_like(x),
    "makes a CPU tensor": lambda x: x + torch.zeros(x.shape[-1]),
}


def _matched_cfg(ref: nn.Module) -> dict:
    ref = ref.double()
    inputs = [torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))]
    return {"kwargs": {}, "meta_init": True, "inputs": inputs, "repeat": 2,
            "grad_out": torch.ones(3, 4, dtype=torch.float64),
            "matched": {"layers": tasks.trace_layers(ref, inputs), "uses": tasks.tensor_use_order(ref, inputs),
                        "params": {n: p.detach().clone() for n, p in ref.named_parameters()}, "buffers": {}}}


@pytest.mark.parametrize("why", list(NOT_ON_META))
@pytest.mark.filterwarnings("ignore:careful")
def test_a_forward_the_meta_trace_cannot_follow_takes_the_trace_on_values(why, monkeypatch, capsys):
    cls = _noisy(NOT_ON_META[why])
    with torch.device("meta"):
        model = cls().double()
    assert tasks._meta_traced(model, [torch.randn(3, 4, dtype=torch.float64)]) is None
    assert capsys.readouterr().out == ""  # nothing the meta trace printed reaches the student's output
    monkeypatch.setattr(tasks, "META_TRACE_NUMEL", 0)
    cfg = _matched_cfg(_Net())
    fast, old, made = _run_both(monkeypatch, sys.modules[__name__], "_Net", cfg)  # the plain net: traced on meta
    assert made[0] is not None
    _same(fast, old)
    torch.manual_seed(0)
    result = tasks._run_config(None, cls, cfg)
    assert result["param_map"] == {"a.weight": "a.weight", "a.bias": "a.bias", "b.weight": "b.weight",
                                   "b.bias": "b.bias"}


def test_what_the_forward_prints_is_printed_once_from_real_values(capsys):
    cfg = _matched_cfg(_Net())
    tasks._run_config(None, _noisy(_printing), cfg)
    out = capsys.readouterr().out
    assert "meta" not in out
    assert out.count("activations") == 1 + cfg["repeat"]  # the trace on values, then each forward


def test_a_fresh_child_traces_on_values(monkeypatch):
    """Without torch._dynamo loaded (a fresh child), the meta kernels' first use would cost more
    than the trace on values: the trace on values runs."""
    monkeypatch.delitem(sys.modules, "torch._dynamo")
    assert not tasks._meta_trace_cheap()
    called = []
    monkeypatch.setattr(tasks, "_meta_traced", lambda model, inputs: called.append(1))
    result = tasks._run_config(None, _Net, _matched_cfg(_Net()))
    assert called == [] and "param_map" in result


def test_a_small_module_traces_on_values(monkeypatch):
    """Below ``META_TRACE_NUMEL`` weights the meta kernels cost more than a pass over the weights."""
    called = []
    monkeypatch.setattr(tasks, "_meta_traced", lambda model, inputs: called.append(1))
    tasks._run_config(None, _Net, _matched_cfg(_Net()))
    assert called == []
    monkeypatch.setattr(tasks, "META_TRACE_NUMEL", sum(p.numel() for p in _Net().parameters()))
    tasks._run_config(None, _Net, _matched_cfg(_Net()))
    assert called == [1]


@pytest.mark.parametrize("shape", [[3], [4099], [2, 4099], [7, 3001], [64, 3, 11, 11]])
def test_materialize_tiles_the_seeded_row(shape):
    """Entry i of a seeded tensor is entry i mod 4099 of the seeded row (the grader and the child
    draw the same weights from a seed; the one-pass tiling must not change a bit)."""
    spec = {"seed": 7, "shape": shape, "std": 0.5}
    row = torch.randn(4099, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 0.5
    numel = torch.Size(shape).numel()
    expected = row.repeat(numel // 4099 + 1)[:numel].view(shape)
    assert torch.equal(tasks.materialize(spec), expected)
    out = torch.full(shape, float("nan"), dtype=torch.float64)
    assert tasks.materialize(spec, out=out) is out and torch.equal(out, expected)
