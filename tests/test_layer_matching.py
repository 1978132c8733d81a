"""Reference weights go into the student's layers by role, not by creation order or names
(issue 12 item 2): ``autograder.tasks.trace_layers`` and ``match_layers``."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.grading import grade_code_items
from autograder.tasks import AmbiguousLayers, _ShapeMismatch, match_layers, trace_layers
from tests.test_items_support import InProcessSandbox, handout_text, make_submission, staff_text


class Ref(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class Reversed(nn.Module):
    """The same roles, created last to first, with names of its own and an in-place ReLU."""

    def __init__(self, use_second=True):
        super().__init__()
        self.use_second = use_second
        self.norm_b, self.conv_b = nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, padding=1)
        self.norm_a, self.conv_a = nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.norm_a(self.conv_a(x)))
        return self.norm_b(self.conv_b(x)) if self.use_second else self.norm_b(x)


X = [torch.randn(1, 4, 5, 5)]


def test_trace_records_first_use_and_the_producing_layer():
    layers = {layer["name"]: layer for layer in trace_layers(Ref(), X)}
    assert [layers[n]["rank"] for n in ("conv1", "bn1", "conv2", "bn2")] == [0, 1, 2, 3]
    assert layers["bn1"]["pred"] == "conv1" and layers["bn2"]["pred"] == "conv2"
    assert layers["conv2"]["pred"] is None  # a functional ReLU sits between
    assert layers["bn1"]["buffers"] == [["running_mean", [4]], ["running_var", [4]]]


def test_layers_pair_by_role_whatever_the_creation_order_and_names():
    pairs = match_layers(trace_layers(Ref(), X), trace_layers(Reversed(), X))
    assert pairs == {"conv1": "conv_a", "bn1": "norm_a", "conv2": "conv_b", "bn2": "norm_b"}


def test_same_shaped_layer_that_never_runs_is_reported_as_ambiguous():
    with pytest.raises(AmbiguousLayers, match="never ran in forward"):
        match_layers(trace_layers(Ref(), X), trace_layers(Reversed(use_second=False), X))


def test_different_shapes_are_a_shape_mismatch():
    other = nn.Sequential(nn.Conv2d(4, 5, 3), nn.BatchNorm2d(5))
    with pytest.raises(_ShapeMismatch):
        match_layers(trace_layers(Ref(), X), trace_layers(other, torch.randn(1, 4, 5, 5)[None][0:1]))


def test_unused_layer_in_a_block_costs_the_item_with_the_clear_message(tmp_path):
    """A BasicBlock that creates conv2 but runs conv1 twice: where conv1 and conv2 have the same
    shapes (in_planes == planes) their roles cannot be told apart, and the feedback says so
    instead of guessing."""
    alt = '''
from torch import nn
import torch.nn.functional as F


def block_init(self, in_planes, planes, stride=1):
    nn.Module.__init__(self)
    self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.shortcut = nn.Sequential()


def block_forward(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    return F.relu(self.bn2(self.conv1(out)) + self.shortcut(x))


METHODS = {"BasicBlock": {"__init__": block_init, "forward": block_forward}}
'''
    text = handout_text(staff_text("models/resnet.py")) + alt + (
        "\nfor _cls, _methods in METHODS.items():\n    for _name, _fn in _methods.items():\n"
        "        setattr(globals()[_cls], _name, _fn)\n")
    root = make_submission(tmp_path, {"models/resnet.py": text})
    res = grade_code_items(root, InProcessSandbox(root), items=["resnet/BasicBlock"])[0]
    assert res.score < res.max_score
    assert "FAILED configuration 1 (in_planes 4, planes 4" in res.output
    assert "your layers conv1, conv2 all have parameter shapes [[4, 4, 3, 3]] and conv2 never ran in forward" \
        in res.output, res.output


class Functional(nn.Module):
    """Ref's computation with bare parameters (created in reverse) and functional calls."""

    def __init__(self, use_second=True):
        super().__init__()
        self.use_second = use_second
        self.w2, self.w1 = nn.Parameter(torch.randn(4, 4, 3, 3)), nn.Parameter(torch.randn(4, 4, 3, 3))

    def forward(self, x):
        x = F.relu(F.conv2d(x, self.w1, padding=1))
        return F.conv2d(x, self.w2 if self.use_second else self.w1, padding=1)


def test_tensor_fallback_pairs_same_shapes_by_first_use_and_reports_unused():
    from autograder.tasks import match_tensors, tensor_use_order

    ref = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, bias=False))
    shapes = lambda m: {n: list(p.shape) for n, p in m.named_parameters()}  # noqa: E731
    assert tensor_use_order(ref, X) == ["0.weight", "2.weight"]
    ours = Functional()
    assert tensor_use_order(ours, X) == ["w1", "w2"]
    assert match_tensors(shapes(ref), tensor_use_order(ref, X), shapes(ours), tensor_use_order(ours, X)) == \
        {"0.weight": "w1", "2.weight": "w2"}
    lazy = Functional(use_second=False)
    with pytest.raises(AmbiguousLayers, match="w2 never took part in forward"):
        match_tensors(shapes(ref), tensor_use_order(ref, X), shapes(lazy), tensor_use_order(lazy, X))
