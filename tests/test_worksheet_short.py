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
    ("q1.6", "Values from the base file are loaded first, then this file's values take priority, then --opts"),
    ("q7.3", "It adds the input x to the block's output, so gradients do not vanish in deep networks."),
    ("q4.3", "TRAIN.CLIP_GRAD; without it one huge gradient can make training diverge."),
])
def test_plausible_short_answers_get_full_marks(key, qid, text):
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert grade.score == key[qid].points and grade.review.startswith("confirm"), (qid, grade.key)


# Wrong answers that keyword matching used to give full marks: never final full marks now.
@pytest.mark.parametrize("qid, text, reason", [
    ("q0.1", "F.conv2d holds learnable weights as attributes; nn.Module classes are plain functions you call "
             "with the weights as arguments.", "other subject"),
    ("q0.2", "A DataLoader returns one sample and its label by index; a Dataset wraps it into shuffled mini-batches.",
     "other subject"),
    ("q4.3", "CLIP_GRAD does not protect against exploding gradients; it causes them", "negated"),
    ("q7.3", "the shortcut multiplies the output by zero", "wrong idea"),
    ("q7.3", "the shortcut multiplies the output by zero, so the gradient vanishes", "wrong idea"),
    ("q10.4", "No warmup and no cosine", "negated"),
    ("q9.11", "O(N^2 D^2)", ""),
    ("q9.11", "O(N^2 D^2), quadratic in N", "wrong idea"),
])
def test_false_full_marks_go_to_a_ta(key, qid, text, reason):
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert grade.review and reason in grade.review, (qid, text, grade)
    assert "a TA reviews this answer" in grade.visible and grade.visible.startswith("suggested")


def test_a_suggested_score_counts_only_confident_ideas(key):
    negated = ws.grade_answer(key["q10.4"], ws.Answer("q10.4", "No warmup and no cosine", "markers"))
    assert negated.score == 0
    half = ws.grade_answer(key["q4.3"], ws.Answer("q4.3", "CLIP_GRAD does not protect against exploding gradients", "markers"))
    assert half.score == 1 and half.review


def test_only_confident_full_marks_on_a_question_the_rubric_marks_final_are_final(key):
    """A partial or zero short answer is a suggestion, never a final verdict; confident full marks
    are final only where the rubric says the patterns decide (q1.4: two config key names)."""
    assert key["q1.4"].spec.get("final_when_confident") is True
    zero = ws.grade_answer(key["q1.4"], ws.Answer("q1.4", "the yaml file", "markers"))
    assert zero.score == 0 and zero.review
    full = ws.grade_answer(key["q1.4"], ws.Answer("q1.4", "MODEL.NAME and DATA.DATASET", "markers"))
    assert full.score == 2 and not full.review
    assert not key["q4.3"].spec.get("final_when_confident")
    other = ws.grade_answer(key["q4.3"], ws.Answer("q4.3", "TRAIN.CLIP_GRAD; it stops exploding gradients.", "markers"))
    assert other.score == 2 and other.review.startswith("confirm")


# Wrong answers in words the patterns were not written for (found by a TA trying the grader): the
# machine cannot rule them out, so they reach the TA sheet; none becomes a final full mark.
@pytest.mark.parametrize("qid, text", [
    ("q4.3", "TRAIN.CLIP_GRAD. It causes exploding gradients instead of preventing them."),
    ("q4.3", "TRAIN.CLIP_GRAD, but clipping is useless against exploding gradients."),
    ("q1.6", "--opts is applied first, then this file, and finally base.yaml overrides everything."),
    ("q10.4", "A step schedule rather than warmup or cosine."),
    ("q7.3", "The shortcut removes the input from the output, so gradients vanish."),
])
def test_unforeseen_wrong_wording_is_never_a_final_full_mark(key, qid, text):
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert grade.review, (qid, grade.score, grade.key)
    assert "a TA reviews" in grade.visible


def test_a_known_wrong_idea_caps_the_suggestion_at_zero(key):
    grade = ws.grade_answer(key["q7.3"], ws.Answer("q7.3", "It adds the input x to the output, but the shortcut "
                                                            "multiplies the output by zero.", "markers"))
    assert grade.score == 0 and "wrong idea" in grade.review


def test_a_role_the_heuristic_cannot_attribute_is_a_suggestion_not_a_zero(key):
    # right, but "index" sits in a clause opened by "The DataLoader": the TA decides
    grade = ws.grade_answer(key["q0.2"], ws.Answer(
        "q0.2", "The DataLoader batches and shuffles what the Dataset returns for each index.", "markers"))
    assert grade.score == 1 and grade.review and "other subject" in grade.review
