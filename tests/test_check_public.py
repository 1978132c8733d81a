"""`check` gives every graded class a public item (issue 12 items 6 and 7): AddPositionEmbs,
Encoder and VisionTransformer run on public cases shipped as numbers (other seeds and sizes than
the graded ones), and a public part of the mistake catalogue names mistakes without staff files."""
from __future__ import annotations

import sys

import pytest
import torch

from autograder import check
from autograder.grading import ITEM_NAMES, cases_for, grade_code_items
from autograder.grading import public
from autograder.grading.reference import ITEMS, PUBLIC_CASES
from autograder.staff.mistakes import MISTAKES
from tests.test_items_support import InProcessSandbox, make_submission, staff_text

VIT = "models/vit.py"


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and \
            torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_shipped_public_cases_and_catalogue_are_current():
    """The shipped numbers equal what the staff references give now (rebuild with
    `python -c "from autograder.grading.public import write; write()"`)."""
    shipped = public.load()
    assert set(shipped["cases"]) == set(ITEM_NAMES)  # every item: check never makes a reference itself
    for name in ITEM_NAMES:
        fresh = public.public_case_list(name)
        stored = shipped["cases"][name]
        assert [c["label"] for c in stored] == [c.label for c in fresh], name
        for c, s in zip(fresh, stored):
            assert _same(c.payload, s["payload"]) and _same(c.expected, s["expected"]), f"{name} is stale"
    want = {(m.item, m.key, m.description) for m in MISTAKES if m.public and m.symptom is None}
    assert {(m["item"], m["key"], m["description"]) for m in shipped["mistakes"]} == want
    assert any(m["item"] == "vit/Encoder" for m in shipped["mistakes"])


@pytest.mark.slow
def test_shipped_public_file_equals_a_full_rebuild():
    assert _same(public.build(), public.load())


def test_public_cases_use_other_seeds_and_sizes_than_the_graded_ones():
    for name in PUBLIC_CASES:
        graded, shown = cases_for(ITEMS[name]), cases_for(ITEMS[name], public=True)
        assert {c.payload["seed"] for c in graded}.isdisjoint(c.payload["seed"] for c in shown)
        assert {c.label for c in graded}.isdisjoint(c.label for c in shown)
        assert all(c.reference is None for c in shown)  # numbers only: no staff code needed


@pytest.fixture
def handout_mode(monkeypatch):
    """No staff files: their modules cannot be imported."""
    for mod in ("autograder.staff.mistakes", "autograder.staff.containers"):
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setattr(check, "check_code", lambda root: (
        grade_code_items(root, InProcessSandbox(root), public_only=True,
                         items=[n for n in ITEM_NAMES if n.startswith("vit/")]), ["a protection"]))


def test_check_grades_every_vit_class_of_a_correct_solution(tmp_path, handout_mode):
    results, text = check.run_check(make_submission(tmp_path))
    by_name = {r.name: r for r in results}
    for name in ("vit/AddPositionEmbs", "vit/Encoder", "vit/VisionTransformer"):
        assert by_name[name].score == by_name[name].max_score, by_name[name].output
    assert all(r.status == "passed" for r in results), text


@pytest.mark.parametrize("old,new,item,diagnosis", [
    ("        return self.norm(x)\n", "        return x\n", "vit/Encoder", "the final LayerNorm (self.norm) is missing"),
    ("x = torch.cat([cls, x], dim=1)  # (B, N + 1, D), class token first", "x = torch.cat([x, cls], dim=1)",
     "vit/VisionTransformer", "the class token is appended after the patches"),
    ("return self.head(x[:, 0])  # (B, K) from the class token", "return self.head(x.mean(dim=1))",
     "vit/VisionTransformer", "the head reads the mean of all tokens"),
])
def test_check_names_container_mistakes_on_their_own_item(tmp_path, handout_mode, old, new, item, diagnosis):
    text = staff_text(VIT)
    assert old in text
    results, table = check.run_check(make_submission(tmp_path, {VIT: text.replace(old, new, 1)}))
    by_name = {r.name: r for r in results}
    assert by_name[item].score == 0
    assert diagnosis in " ".join(table.split())  # shown by check, not just `end_to_end 0/5`
    assert by_name["vit/end_to_end"].score == 0
    others = [n for n in by_name if n not in (item, "vit/end_to_end") and n.startswith("vit/")]
    assert all(by_name[n].score == by_name[n].max_score for n in others)
