"""Naming the mistake behind a wrong answer.

The staff keep a catalogue of realistic mistakes (``autograder/staff/mistakes.py``, left out of
the handout): each is a mutant of the reference (a replaced ``forward``, or a change made to the
model after it is built) or a symptom the checks can see. When an item fails, the grader runs
every mutant of that item on the same inputs and weights; if the student's outputs match a
mutant's, the feedback says which mistake that is, in plain words. ``check`` uses the public part
of the catalogue (``autograder.grading.public``): the same descriptions, with the mutants'
outputs stored as numbers.
"""
from __future__ import annotations

import copy
import importlib
import types

import torch
from torch import nn

from autograder.grading.compare import compare_tensor
from autograder.grading.mistake import Mistake

__all__ = ["Mistake", "load_mistakes", "mutant", "mutant_outputs", "matches", "diagnose"]


def load_mistakes() -> list[Mistake]:
    """The staff catalogue, or an empty list where it is absent (the student handout)."""
    try:
        module = importlib.import_module("autograder.staff.mistakes")
    except ModuleNotFoundError:
        return []
    return list(module.MISTAKES)


def mutant(reference: nn.Module, mistake: Mistake) -> nn.Module:
    """A copy of ``reference`` with the mistake made (same weights)."""
    shared = {id(p): p for p in reference.parameters()}
    model = copy.deepcopy(reference, shared)  # new modules, the same weight tensors (never written to)
    if mistake.forward is not None:
        model.forward = types.MethodType(mistake.forward, model)
    if mistake.transform is not None:
        mistake.transform(model)
    return model


def _output(model: nn.Module, payload: dict) -> torch.Tensor | None:
    model.train(bool(payload.get("train", False)))
    try:
        with torch.no_grad():
            out = model(*[x.clone() for x in payload["inputs"]])
    except Exception:  # noqa: BLE001 - a mutant that cannot run on this configuration matches nothing
        return None
    return out if isinstance(out, torch.Tensor) else None


def mutant_outputs(mistake: Mistake, cases: list) -> tuple:
    """The mutant's output per case (a tensor, or None where a case has no reference or the mutant
    cannot run): what ``matches`` compares with, made ahead of time for the stores that keep it
    (the handout's public checks, the grader's reference store).

    Args:
        mistake: a catalogued mistake with code (``forward`` or ``transform``).
        cases: the item's made cases (``reference.Case``, with their reference modules).
    """
    return tuple(None if c.reference is None else _output(mutant(c.reference, mistake), c.payload) for c in cases)


def matches(mistake: Mistake, cases: list, results: list[dict], rtol: float, atol: float) -> bool:
    """Whether the student's results look like ``mistake``.

    Args:
        mistake: the catalogued mistake.
        cases: the item's cases (``reference.Case``).
        results: the child's result per case.
        rtol: relative tolerance.
        atol: absolute tolerance.
    """
    if mistake.symptom is not None:
        try:
            return bool(mistake.symptom(results))
        except Exception:  # noqa: BLE001 - a symptom that cannot be read is not a match
            return False
    compared = 0
    differs = False
    for i, (case, got) in enumerate(zip(cases, results)):
        out = got.get("out") if isinstance(got, dict) else None
        if not isinstance(out, torch.Tensor):
            continue
        if mistake.outputs is not None:  # the public catalogue: the mutant's output, stored
            want = mistake.outputs[i] if i < len(mistake.outputs) else None
        elif case.reference is None:
            continue
        else:
            want = _output(mutant(case.reference, mistake), case.payload)
        if want is None or compare_tensor("", out, want, rtol, atol):
            return False
        compared += 1
        ref_out = case.expected.get("out")
        differs |= not isinstance(ref_out, torch.Tensor) or bool(compare_tensor("", ref_out, want, rtol, atol))
    return compared > 0 and differs


def diagnose(item: str, cases: list, results: list[dict], mistakes: list[Mistake], rtol: float,
             atol: float) -> list[str]:
    """The descriptions of every catalogued mistake of ``item`` the results match."""
    found = []
    for mistake in mistakes:
        if mistake.item == item and matches(mistake, cases, results, rtol, atol):
            found.append(mistake.description)
    return found
