"""Comparing what the student's class returned with the reference, one configuration at a time.

Every check returns a list of problems written for the student (empty when the case passes).
"""
from __future__ import annotations

import torch


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def compare_tensor(what: str, got, want: torch.Tensor, rtol: float, atol: float) -> list[str]:
    """Problems with ``got`` against ``want`` (shape, dtype, finiteness, values).

    Args:
        what: the compared quantity in words, e.g. ``output`` or ``gradient of qkv.weight``.
        got: the student's tensor (or a summary dict for a large gradient, or None).
        want: the reference tensor (or summary dict).
        rtol: relative tolerance.
        atol: absolute tolerance.
    """
    if isinstance(want, dict):  # a large gradient: compare its fingerprint
        if not isinstance(got, dict) or got.get("shape") != want["shape"]:
            shape = got.get("shape") if isinstance(got, dict) else None
            return [f"{what}: shape {want['shape']} expected, got {shape}"]
        problems = []
        for key in ("sample", "sum", "norm"):
            problems += compare_tensor(f"{what} ({key})", got[key], want[key], rtol, atol)
        return problems[:1]
    if got is None:
        return [f"{what}: nothing came back (is it connected to the computation?)"]
    if not isinstance(got, torch.Tensor):
        return [f"{what}: expected a tensor, got {type(got).__name__}"]
    if list(got.shape) != list(want.shape):
        return [f"{what}: shape {list(want.shape)} expected, got {list(got.shape)}"]
    if got.dtype != want.dtype:
        return [f"{what}: dtype {want.dtype} expected (the input's), got {got.dtype}: create new tensors "
                f"with the input's dtype and device (x.new_zeros(...), dtype=x.dtype), not a fixed one"]
    if not torch.isfinite(got).all():
        return [f"{what}: contains NaN or inf"]
    err = (got - want).abs()
    bad = err > atol + rtol * want.abs()
    if bad.any():
        return [f"{what}: max abs error {_fmt(err.max().item())} (largest expected value "
                f"{_fmt(want.abs().max().item())}; allowed atol {atol:g} + rtol {rtol:g} x |expected|), "
                f"{int(bad.sum())} of {bad.numel()} entries off"]
    return []


def check_case(expected: dict, got: dict, rtol: float, atol: float) -> list[str]:
    """Every problem of one configuration's result (empty list: the configuration passes).

    Args:
        expected: the reference's result (``run_model``'s dict, or ``{"param_count": n}``).
        got: the child's result for that configuration.
        rtol: relative tolerance.
        atol: absolute tolerance.
    """
    if "error" in got:
        return [f"your code raised an error:\n{got['error']}"]
    if "param_count" in expected:
        n, want = got.get("param_count"), expected["param_count"]
        # The expected count is never printed: it answers a worksheet question (q3.4), and the
        # feedback reaches students before the deadline (`check`, Gradescope resubmissions).
        return [] if n == want else [f"parameter count: yours is {n:,}, which is not the reference's count (the "
                                     f"layer table in the docstring fixes every weight and bias)"
                                     if isinstance(n, int) else "parameter count: could not be counted"]
    if "param_shapes" in got:  # the layers do not line up with the reference's
        return [shape_mismatch(expected, got)]
    if "ambiguous" in got:
        return [str(got["ambiguous"])]
    if got.get("out") is None:
        return [f"forward returned {got.get('out_type', 'nothing')}, expected a tensor"]
    problems = compare_tensor("output", got["out"], expected["out"], rtol, atol)
    # Randomness in eval mode first: it is why the output is off (the reference's dropout is off),
    # and the max error alone would not say so.
    for i, again in enumerate(got.get("repeats", [])):
        if again is None or not torch.equal(again, got["out"]):
            diff = (again - got["out"]).abs().max().item() if isinstance(again, torch.Tensor) and \
                again.shape == got["out"].shape else float("nan")
            return [f"two runs in eval mode gave different outputs (max difference {_fmt(diff)}): something random "
                    f"is active in eval mode, e.g. dropout that ignores self.training (F.dropout needs "
                    f"training=self.training; an nn.Dropout module handles it)"] + problems
    if problems:
        return problems
    if expected.get("order") and got.get("order") is not None:
        problems += _check_order(expected["order"], got["order"])
    if "in_grads" not in got:
        return problems + ["backward: no gradient reached the input or the parameters (is the output detached, "
                           "or built under torch.no_grad?)"]
    for j, (g, w) in enumerate(zip(got["in_grads"], expected["in_grads"])):
        problems += compare_tensor("gradient of the input" + (f" {j}" if j else ""), g, w, rtol, atol)
    got_grads = got.get("param_grads", {})
    names = expected.get("param_names")  # reference name -> the student's name, when they differ
    if names == "matched":  # weights loaded layer by matched layer: the child says which is which
        names = got.get("param_map") or {}
    for name in expected["param_order"]:
        theirs = names.get(name, name) if names else name
        if theirs not in got_grads:
            problems.append(f"gradient of {theirs}: this parameter got no gradient (is it used in forward?)")
            continue
        problems += compare_tensor(f"gradient of {theirs}", got_grads[theirs], expected["param_grads"][name], rtol, atol)
    return problems


def _check_order(want: list[str], got: list[str]) -> list[str]:
    known = set(want)
    got = [n for n in got if n in known]
    if "dropout" not in got:  # functional dropout is fine; only the order of what ran is checked
        want = [n for n in want if n != "dropout"]
    if got == want:
        return []
    return [f"the sub-modules ran in the order {got}; expected {want}"]


def shape_mismatch(expected: dict, got: dict) -> str:
    """The message for layers that do not line up with the reference's (compared as collections:
    the order and names the student's ``__init__`` uses do not matter)."""
    from collections import Counter

    layers = expected.get("layers") or []
    want_p = [s for layer in layers for _, s in layer["params"]]
    want_b = [s for layer in layers for _, s in layer["buffers"]]
    got_p, got_b = got.get("param_shapes") or [], got.get("buffer_shapes") or []

    def diff(a: list, b: list) -> list:
        return sorted(map(list, (Counter(map(tuple, a)) - Counter(map(tuple, b))).elements()))

    lines = [f"expected {len(want_p)} parameter tensors with shapes {want_p} (in any order), got "
             f"{len(got_p)}: {got_p}"]
    missing, extra = diff(want_p, got_p), diff(got_p, want_p)
    if missing:
        lines.append(f"missing (no layer of yours has them): {missing}")
    if extra:
        lines.append(f"not in the reference: {extra}")
    if Counter(map(tuple, want_b)) != Counter(map(tuple, got_b)):
        lines.append(f"buffers (batch-norm statistics): expected shapes {want_b}, got {got_b}")
    return "; ".join(lines)
