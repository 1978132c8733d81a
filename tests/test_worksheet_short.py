"""Short answers graded by the rubric's patterns."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import key  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_short_answers_partial_credit(key):
    q = key["q1.4"]
    assert ws.grade_answer(q, ws.Answer("q1.4", "MODEL.NAME and DATA.DATASET", "markers")).score == 2
    half = ws.grade_answer(q, ws.Answer("q1.4", "`MODEL.NAME`, and the dataset key", "markers"))
    assert half.score == 1 and half.status == "partly correct"
    assert "DATA.DATASET" not in half.visible and "DATA.DATASET" in half.key
    assert ws.grade_answer(q, ws.Answer("q1.4", "the yaml file", "markers")).score == 0
    hinted = ws.grade_answer(key["q4.3"], ws.Answer("q4.3", "TRAIN.CLIP_GRAD", "markers"))
    assert hinted.score == 1 and "hint: say what can go wrong without clipping" in hinted.visible


@pytest.mark.parametrize("qid, text", [
    ("q0.1", "nn.Module classes hold learnable weights as attributes; functional ones are plain functions you "
             "call with the weights as arguments."),
    ("q0.2", "A Dataset returns one sample and its label by index; a DataLoader wraps it into shuffled mini-batches."),
    ("q0.3", "It tells PyTorch not to track gradients, which saves memory since we are not training."),
    ("q1.6", "It loads base.yaml first, then this file's keys override those values."),
    ("q7.3", "The input skips the two convolutions and is added to their output, so gradients flow even in very "
             "deep networks."),
    ("q9.9", "Pre-LN keeps the residual path an identity, so training is more stable."),
    ("q9.10", "A learnable token whose final state is used for classification; it attends to all patches."),
    ("q9.11", "O(N²·D): quadratic in tokens"),
    ("q9.14", "Interpolate it bilinearly to the new number of patches, keeping the class token."),
])
def test_plausible_short_answers_get_full_marks(key, qid, text):
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert grade.score == key[qid].points, (qid, grade.key)
