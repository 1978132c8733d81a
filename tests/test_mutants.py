"""Every catalogued mistake, grafted into the staff solution, loses points on its own item only
(and on vit/end_to_end, which runs the whole model) and is named by the diagnosis."""
from __future__ import annotations

import pytest

from autograder.grading import ITEM_NAMES, grade_code_items
from autograder.grading.diagnosis import load_mistakes
from autograder.staff.mistakes import MISTAKES
from tests.test_items_support import InProcessSandbox, by_name, graft_mistake, make_submission, staff_text

# Mistakes that leave every eval-mode output right: only their own item's order check sees them.
EVAL_INVISIBLE = {"pos_after_dropout"}
FILES = {"vit": "models/vit.py", "alexnet": "models/alexnet.py", "resnet": "models/resnet.py"}


def test_catalogue_covers_every_student_item_and_is_loaded():
    assert load_mistakes() == MISTAKES
    covered = {m.item for m in MISTAKES}
    assert covered == set(ITEM_NAMES) - {"vit/end_to_end"}
    assert len({(m.item, m.key) for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.item.split('/')[1]}-{m.key}")
def test_mutant_loses_points_on_its_item_only_and_is_diagnosed(mistake, tmp_path):
    group, cls = mistake.item.split("/")
    rel = FILES[group]
    root = make_submission(tmp_path, {rel: graft_mistake(staff_text(rel), cls, mistake)})
    items = [n for n in ITEM_NAMES if n.startswith(group + "/")]
    results = by_name(grade_code_items(root, InProcessSandbox(root), items=items))
    own = results[mistake.item]
    assert own.score < own.max_score, own.output
    assert f"Diagnosis: your results match a known mistake: {mistake.description}." in own.output, own.output
    for name, r in results.items():
        if name == mistake.item:
            continue
        if name == "vit/end_to_end" and mistake.key not in EVAL_INVISIBLE:  # the whole model holds it too
            assert r.score < r.max_score, f"{mistake.key} passes end_to_end"
        elif name == "vit/end_to_end":
            assert r.score == r.max_score
        else:
            assert r.score == r.max_score, f"{mistake.key} costs {name}:\n{r.output}"
