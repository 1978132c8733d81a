"""The rubric: points, visibility and forbidden calls per graded code item.

The staff edit ``autograder/staff/rubric.yaml`` (left out of the handout); every key it leaves out
falls back to ``DEFAULT_RUBRIC`` below, which is also what ``check`` uses inside the handout.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from autograder.results import VISIBILITIES

STAFF_RUBRIC = Path(__file__).resolve().parents[1] / "staff" / "rubric.yaml"

# The attention item's default forbidden calls (DESIGN.md §6), matched by dotted path or last name.
ATTENTION_FORBIDDEN = [
    "torch.nn.MultiheadAttention",
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
    "torch._C._nn.scaled_dot_product_attention",
]

DEFAULT_RUBRIC: dict = {
    "tolerance": {"rtol": 1e-6, "atol": 1e-8},  # float64 comparisons: |got - want| <= atol + rtol * |want|
    "items": {
        "vit/PatchEmbed": {"points": 5, "forbidden": ["timm"]},
        "vit/AddPositionEmbs": {"points": 2, "forbidden": ["timm"]},
        "vit/MlpBlock": {"points": 5, "forbidden": ["timm"]},
        "vit/MultiHeadSelfAttention": {"points": 15, "forbidden": ATTENTION_FORBIDDEN + ["timm"]},
        "vit/Encoder1DBlock": {"points": 8, "forbidden": ["timm"]},
        # The references of AddPositionEmbs, Encoder and VisionTransformer are staff-only (they
        # spell out the forwards): `check` runs them on public cases shipped as numbers.
        "vit/Encoder": {"points": 5, "forbidden": ["timm"]},
        "vit/VisionTransformer": {"points": 8, "forbidden": ["timm"]},
        "vit/end_to_end": {"points": 5, "forbidden": []},
        "alexnet/AlexNet": {"points": 10, "forbidden": ["torchvision.models.AlexNet", "torchvision.models.alexnet"]},
        "resnet/BasicBlock": {"points": 10, "forbidden": ["torchvision.models.resnet.BasicBlock"]},
    },
}
ITEM_DEFAULTS = {"public": True, "visibility": "visible", "forbidden": [], "trap": None, "rtol": None, "atol": None}


class RubricError(ValueError):
    """A rubric file with an unknown item or a bad value; the message names both and the fix."""


def load_rubric(path: Path | None = None) -> dict:
    """The rubric: built-in defaults, overridden by the staff's YAML file when there is one.

    Args:
        path: a rubric YAML file; default ``autograder/staff/rubric.yaml`` when present (the
            handout has none, and then the built-in public defaults apply).

    Returns:
        ``{"tolerance": {...}, "items": {name: {points, public, visibility, forbidden, trap, rtol, atol}}}``
        with every item present.
    """
    rubric = copy.deepcopy(DEFAULT_RUBRIC)
    if path is None and STAFF_RUBRIC.exists():
        path = STAFF_RUBRIC
    if path is not None:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise RubricError(f"{path}: expected a mapping with 'items' (and optional 'tolerance'), "
                              f"got {type(data).__name__}")
        unknown_top = set(data) - {"tolerance", "items"}
        if unknown_top:
            raise RubricError(f"{path}: unknown top-level keys {sorted(unknown_top)}; allowed: items, tolerance")
        rubric["tolerance"].update(data.get("tolerance") or {})
        for name, item in (data.get("items") or {}).items():
            if name not in rubric["items"]:
                raise RubricError(
                    f"{path}: unknown item {name!r}; the graded code items are {sorted(rubric['items'])}"
                )
            unknown = set(item or {}) - set(ITEM_DEFAULTS) - {"points"}
            if unknown:
                raise RubricError(f"{path}: item {name!r} has unknown keys {sorted(unknown)}; allowed: "
                                  f"{sorted(set(ITEM_DEFAULTS) | {'points'})}")
            rubric["items"][name].update(item or {})
    for name, item in rubric["items"].items():
        for key, value in ITEM_DEFAULTS.items():
            item.setdefault(key, copy.deepcopy(value))
        if item["trap"] is None:  # trap at run time whatever can be trapped among the forbidden calls
            item["trap"] = [f for f in item["forbidden"] if "." in f and not f.startswith(("timm", "torchvision"))]
        if not isinstance(item["points"], (int, float)) or item["points"] < 0:
            raise RubricError(f"item {name!r}: points must be a number >= 0, got {item['points']!r}")
        if item["visibility"] not in VISIBILITIES:
            raise RubricError(f"item {name!r}: visibility {item['visibility']!r} is not one of {VISIBILITIES}")
    return rubric
