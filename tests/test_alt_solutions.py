"""Correct solutions written differently from the staff's (einsum or bmm attention, patches by
reshape or unfold, nn.GELU module vs F.gelu, layers as attributes ...) get full marks. Each is
grafted onto the handout's file, so none of the staff's solution code takes part."""
from __future__ import annotations

import pytest

from autograder.grading import ITEM_NAMES, grade_code_items
from tests.test_items_support import (ALT_DIR, InProcessSandbox, graft_alternative, handout_text, make_submission,
                                      staff_text)

ALTERNATIVES = [("vit_einsum", "models/vit.py"), ("vit_bmm", "models/vit.py"),
                ("alexnet_layers", "models/alexnet.py"), ("alexnet_fc_first", "models/alexnet.py"),
                ("alexnet_shuffled", "models/alexnet.py"), ("alexnet_functional_params", "models/alexnet.py"),
                ("resnet_block", "models/resnet.py"),
                ("resnet_shortcut_first", "models/resnet.py"), ("resnet_sequential", "models/resnet.py")]


@pytest.mark.parametrize("alt,rel", ALTERNATIVES, ids=[a for a, _ in ALTERNATIVES])
def test_alternative_solution_gets_full_marks(alt, rel, tmp_path):
    text = graft_alternative(handout_text(staff_text(rel)), alt)
    assert "### BEGIN SOLUTION" not in text
    root = make_submission(tmp_path, {rel: text})
    group = rel.split("/")[1].removesuffix(".py")
    items = [n for n in ITEM_NAMES if n.startswith(group + "/")]
    results = grade_code_items(root, InProcessSandbox(root), items=items)
    assert [r.name for r in results] == items
    for r in results:
        assert r.score == r.max_score, f"{alt} {r.name}:\n{r.output}"


def test_items_are_isolated_from_the_students_other_classes(tmp_path):
    """Only the two container classes are written (everything else still raises
    NotImplementedError): they get full marks, since their sub-modules are stand-ins."""
    text = handout_text(staff_text("models/vit.py"))
    alt = graft_alternative("", "vit_bmm").replace(
        "METHODS = {", "METHODS = {k: v for k, v in {").replace(
        '    "VisionTransformer": {"forward": vit_forward},\n}',
        '    "VisionTransformer": {"forward": vit_forward},\n}.items() if k in ("Encoder1DBlock", "VisionTransformer")}')
    root = make_submission(tmp_path, {"models/vit.py": text + alt})
    results = {r.name: r for r in grade_code_items(root, InProcessSandbox(root),
                                                   items=[n for n in ITEM_NAMES if n.startswith("vit/")])}
    for name, r in results.items():
        full = name in ("vit/Encoder1DBlock", "vit/VisionTransformer")
        assert (r.score == r.max_score) if full else (r.score == 0), f"{name}: {r.output}"


@pytest.mark.parametrize("style", ["bmm", "einsum"])
def test_int_only_constructors_full_marks_on_every_vit_item(style, tmp_path):
    """A whole models/vit.py whose constructors take only an int img_size (the contract's type:
    ``num_patches = (img_size // patch_size) ** 2``), with unfold patches, an nn.GELU module and
    bmm or einsum attention, gets full marks on every vit/ item (issue 12 item 1)."""
    text = (ALT_DIR / "vit_int_only.py").read_text().replace('STYLE = "bmm"', f'STYLE = "{style}"')
    assert "img_size // patch_size" in text
    root = make_submission(tmp_path, {"models/vit.py": text})
    items = [n for n in ITEM_NAMES if n.startswith("vit/")]
    results = grade_code_items(root, InProcessSandbox(root), items=items)
    assert [r.name for r in results] == items
    for r in results:
        assert r.score == r.max_score, f"{style} {r.name}:\n{r.output}"
