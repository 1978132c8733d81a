"""What ``check`` knows without staff files: public cases and the public part of the mistake
catalogue, shipped as numbers (``public_checks.pt`` next to this file), never as code.

- The public cases of every item: for the items whose references are staff-only
  (``reference.PUBLIC_CASES``: AddPositionEmbs, Encoder, VisionTransformer) other seeds and sizes
  than the graded cases; for the others their graded cases, whose references are public code
  (timm's and torchvision's layers) the handout could run itself. Shipping them as numbers saves
  ``check`` importing timm and torchvision and running every reference (about 3 s of a student's
  wait); the inputs, weights and the reference's results.
- The public mistakes (``Mistake.public`` in the staff catalogue): their descriptions and what
  their mutants output on each public case, so the diagnosis can name them in the handout.

The staff rebuild the file after changing a reference, a public case or the catalogue::

    python -c "from autograder.grading.public import write; write()"

and ``tests/test_check_public.py`` fails while the shipped file is stale.
"""
from __future__ import annotations

from pathlib import Path

import torch

from autograder.grading.mistake import Mistake
from autograder.grading.reference import ITEM_NAMES, ITEMS, PUBLIC_CASES, Case

PUBLIC_FILE = Path(__file__).with_name("public_checks.pt")
_LOADED: dict[str, dict] = {}


def public_case_list(item: str) -> list[Case]:
    """The cases ``check`` runs for ``item``, made from the references (staff side only for the
    items in ``PUBLIC_CASES``; the graded cases for the others)."""
    return PUBLIC_CASES[item]() if item in PUBLIC_CASES else ITEMS[item].make_cases()


def build() -> dict:
    """The shipped data, computed from the staff's references and catalogue (staff side only).

    Returns:
        ``{"cases": {item: [{"label", "payload", "expected"}]}, "mistakes": [{"item", "key",
        "description", "outputs": [tensor or None per public case]}]}``.
    """
    from autograder.grading.diagnosis import load_mistakes, mutant_outputs

    cases = {name: public_case_list(name) for name in ITEM_NAMES}
    data: dict = {"cases": {name: [{"label": c.label, "payload": c.payload, "expected": c.expected}
                                   for c in found] for name, found in cases.items()},
                  "mistakes": []}
    for m in load_mistakes():
        if not m.public or m.symptom is not None:
            continue
        outputs = list(mutant_outputs(m, cases[m.item]))
        data["mistakes"].append({"item": m.item, "key": m.key, "description": m.description, "outputs": outputs})
    return data


def write(path: Path = PUBLIC_FILE) -> Path:
    """Rebuilds the shipped file (staff side only)."""
    torch.save(build(), path)
    return path


def load(path: Path = PUBLIC_FILE) -> dict:
    """The shipped data (``build``'s dict), or empty parts where the file is absent."""
    key = str(path)
    if key not in _LOADED:
        try:
            _LOADED[key] = torch.load(path, weights_only=True)
        except (OSError, RuntimeError):
            _LOADED[key] = {"cases": {}, "mistakes": []}
    return _LOADED[key]


def public_cases(item: str) -> list[Case] | None:
    """The shipped public cases of ``item`` (no reference module: compared by their numbers), or
    None when the item's public cases are its graded ones."""
    found = load()["cases"].get(item)
    if found is None:
        return None
    return [Case(c["label"], c["payload"], None, c["expected"]) for c in found]


def public_mistakes() -> list[Mistake]:
    """The public part of the catalogue: each mistake with its mutant's outputs per public case."""
    return [Mistake(m["item"], m["key"], m["description"], outputs=tuple(m["outputs"]), public=True)
            for m in load()["mistakes"] if m["item"] in ITEM_NAMES]

