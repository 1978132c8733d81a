"""The graded code items: full marks for the staff solution, zero for the handout, feedback a
student can act on, forbidden calls, and the rubric (autograder/grading, autograder/tasks.py)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from autograder.grading import ITEM_NAMES, grade_code_items, load_rubric
from autograder.grading.forbidden import find_forbidden
from autograder.grading.rubric import DEFAULT_RUBRIC, RubricError
from autograder.results import TestResult as Result
from tests.test_items_support import InProcessSandbox, by_name, handout_text, make_submission, staff_text

VIT = "models/vit.py"


@pytest.fixture(scope="module")
def staff_dir(tmp_path_factory):
    return make_submission(tmp_path_factory.mktemp("staff"))


def grade(root, **kw):
    return grade_code_items(root, InProcessSandbox(root), **kw)


def test_staff_solution_full_marks_in_the_real_sandbox(staff_dir):
    """Every item, through the real sandboxed child: the staff's models/ score full marks."""
    from autograder.sandbox import Limits, Sandbox

    with Sandbox(staff_dir, task_module="autograder.tasks", limits=Limits()) as sb:
        results = grade_code_items(staff_dir, sb)
    assert [r.name for r in results] == list(ITEM_NAMES)
    for r in results:
        assert isinstance(r, Result)
        assert r.score == r.max_score > 0, f"{r.name}:\n{r.output}"
        assert r.status == "passed"
    assert sum(r.max_score for r in results) == sum(i["points"] for i in load_rubric()["items"].values())


def test_handout_scores_zero_on_every_item(tmp_path):
    files = {rel: handout_text(staff_text(rel)) for rel in (VIT, "models/alexnet.py", "models/resnet.py")}
    assert all("NotImplementedError" in text for text in files.values())
    results = grade(make_submission(tmp_path, files))
    assert [r.name for r in results] == list(ITEM_NAMES)
    for r in results:
        assert r.score == 0, f"{r.name}: {r.output}"
        assert "not implemented yet" in r.output, r.output


def test_import_error_costs_every_item_of_that_file_only(tmp_path):
    root = make_submission(tmp_path, {VIT: staff_text(VIT) + "\ndef broken(:\n"})
    res = by_name(grade(root))
    for name in ITEM_NAMES:
        if name.startswith("vit/"):
            assert res[name].score == 0
            assert "Could not import" in res[name].output and "SyntaxError" in res[name].output
        else:
            assert res[name].score == res[name].max_score


def test_wrong_shape_feedback_names_configuration_and_shapes(tmp_path):
    text = staff_text(VIT).replace("return x.transpose(1, 2)  # (B, N, D)", "return x  # (B, D, N)")
    res = by_name(grade(make_submission(tmp_path, {VIT: text}), items=["vit/PatchEmbed"]))["vit/PatchEmbed"]
    assert res.score == 0
    assert "FAILED configuration 1 (batch 2, 3x12x20 images (module built with img_size 12), patch 4, embed_dim 8)" in res.output
    assert "output: shape [2, 15, 8] expected, got [2, 8, 15]" in res.output
    assert "Diagnosis" in res.output and "[B, D, N]" in res.output


def test_value_error_feedback_gives_max_error(tmp_path):
    text = staff_text(VIT).replace("return x + self.pos_embedding  #", "return x + 1.5 * self.pos_embedding  #")
    res = grade(make_submission(tmp_path, {VIT: text}), items=["vit/AddPositionEmbs"])[0]
    assert res.score == 0 and "0/2 configurations match" in res.output
    assert "output: max abs error" in res.output and "rtol 1e-06" in res.output


def test_crash_shows_traceback_trimmed_to_the_students_file(tmp_path):
    text = staff_text(VIT).replace("attn = attn.softmax(dim=-1)", "attn = attn.softmax(dim=-1) @ torch.ones(1, 2, 3)")
    res = grade(make_submission(tmp_path, {VIT: text}), items=["vit/MultiHeadSelfAttention"])[0]
    assert res.score == 0
    assert 'File "models/vit.py", line' in res.output and "RuntimeError" in res.output
    assert "autograder" not in res.output.split("Compared in float64")[1]


def test_partial_credit_per_configuration(tmp_path):
    """Scaling by sqrt(embed_dim) is right only with one head: 1 of 4 configurations."""
    text = staff_text(VIT).replace("attn = (q @ k.transpose(-2, -1)) * self.scale",
                                   "attn = (q @ k.transpose(-2, -1)) / D ** 0.5")
    res = grade(make_submission(tmp_path, {VIT: text}), items=["vit/MultiHeadSelfAttention"])[0]
    assert res.score == pytest.approx(res.max_score / 4)
    assert "1 head" not in res.output.split("FAILED")[1].split("\n")[0]


def test_alexnet_layer_mismatch_lists_expected_shapes(tmp_path):
    text = staff_text("models/alexnet.py").replace("nn.Conv2d(64, 192, kernel_size=5, padding=2)",
                                                  "nn.Conv2d(64, 190, kernel_size=5, padding=2)").replace(
        "nn.Conv2d(192, 384", "nn.Conv2d(190, 384")
    res = grade(make_submission(tmp_path, {"models/alexnet.py": text}), items=["alexnet/AlexNet"])[0]
    assert res.score == 0
    assert "expected 16 parameter tensors with shapes [[64, 3, 11, 11], [64], [192, 64, 5, 5]" in res.output
    assert "(in any order)" in res.output
    assert "missing (no layer of yours has them): [[192], [192, 64, 5, 5], [384, 192, 3, 3]]" in res.output
    assert "not in the reference: [[190], [190, 64, 5, 5], [384, 190, 3, 3]]" in res.output
    assert "parameter count: yours is 57,813,126, which is not the reference's count" in res.output
    assert not any(spelling in res.output for spelling in ("57,823,240", "57823240", "57.8"))  # q3.4's answer


def test_timeout_or_limit_costs_the_item_with_the_limit_named(staff_dir):
    @dataclasses.dataclass
    class Hit:
        ok: bool = False
        value: dict | None = None
        error: str = ""
        limit: str = "wall time limit (60 s) for this item"
        stdout: str = ""

    class Hanging:
        def run(self, task, payload):
            return Hit()

    results = grade_code_items(staff_dir, Hanging())
    assert len(results) == len(ITEM_NAMES)
    assert all(r.score == 0 and "the wall time limit (60 s) for this item was hit" in r.output for r in results)


SDPA = """
    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        x = {call}(q, k, v, dropout_p=0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, T, D)))
"""


def _with_attention(forward: str) -> str:
    text = staff_text(VIT)
    start = text.index("    def forward", text.index("class MultiHeadSelfAttention"))
    end = text.index("class Encoder1DBlock")
    return text[:start] + forward.lstrip("\n") + "\n\n" + text[end:]


def test_forbidden_call_found_in_source_scores_zero(tmp_path):
    root = make_submission(tmp_path, {VIT: _with_attention(SDPA.format(call="F.scaled_dot_product_attention"))})
    res = grade(root, items=["vit/MultiHeadSelfAttention"])[0]
    assert res.score == 0
    assert "Forbidden for this item" in res.output
    assert "F.scaled_dot_product_attention (torch.nn.functional.scaled_dot_product_attention)" in res.output
    assert "called while your MultiHeadSelfAttention ran: torch.nn.functional.scaled_dot_product_attention" in res.output
    assert "4/4 configurations match" in res.output  # right answer, still zero


def test_forbidden_call_hidden_from_the_source_is_trapped_at_run_time(tmp_path):
    call = 'getattr(torch.nn.functional, "scaled_dot_" + "product_attention")'
    root = make_submission(tmp_path, {VIT: _with_attention(SDPA.format(call=call))})
    res = grade(root, items=["vit/MultiHeadSelfAttention"])[0]
    assert res.score == 0
    assert "in models/vit.py" not in res.output  # the source check cannot see it ...
    assert "called while your MultiHeadSelfAttention ran" in res.output  # ... the trap does


def test_find_forbidden_resolves_imports_and_helpers():
    src = """
import torch.nn.functional as Fn
from torch.nn.functional import scaled_dot_product_attention as sdpa
from torch import nn
import timm


def helper(q, k, v):
    return sdpa(q, k, v)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self):
        self.mha = nn.MultiheadAttention(4, 2)

    def forward(self, x):
        return helper(x, x, x) + Fn.multi_head_attention_forward(x)


class Other(nn.Module):
    def forward(self, x):
        return timm.layers.Mlp(4)(x)
"""
    forbidden = DEFAULT_RUBRIC["items"]["vit/MultiHeadSelfAttention"]["forbidden"]
    hits = find_forbidden(src, "MultiHeadSelfAttention", forbidden)
    text = "\n".join(hits)
    assert "line 14: nn.MultiheadAttention (torch.nn.MultiheadAttention)" in text
    assert "Fn.multi_head_attention_forward" in text
    assert "line 9: sdpa (torch.nn.functional.scaled_dot_product_attention)" in text  # through the helper
    assert "timm" not in text  # used only by another class
    assert find_forbidden(src, "Other", ["timm"]) == ["line 22: timm.layers.Mlp"]
    assert find_forbidden(staff_text(VIT), "MultiHeadSelfAttention", forbidden) == []
    assert find_forbidden("def broken(:", "X", forbidden) == []


def test_rubric_defaults_staff_file_and_errors(tmp_path):
    staff = load_rubric()  # autograder/staff/rubric.yaml
    assert list(staff["items"]) == list(ITEM_NAMES)
    assert staff["items"] == {n: {**DEFAULT_RUBRIC["items"][n], **staff["items"][n]} for n in ITEM_NAMES}
    assert staff["items"]["vit/MultiHeadSelfAttention"]["trap"] == [
        f for f in DEFAULT_RUBRIC["items"]["vit/MultiHeadSelfAttention"]["forbidden"] if f.startswith("torch")]
    custom = tmp_path / "rubric.yaml"
    custom.write_text(yaml.safe_dump({"items": {"vit/Encoder": {"points": 7, "public": False}},
                                      "tolerance": {"rtol": 1e-5}}))
    rubric = load_rubric(custom)
    assert rubric["items"]["vit/Encoder"]["points"] == 7 and rubric["tolerance"] == {"rtol": 1e-5, "atol": 1e-8}
    custom.write_text(yaml.safe_dump({"items": {"vit/Encodr": {"points": 7}}}))
    with pytest.raises(RubricError, match="unknown item 'vit/Encodr'.*vit/Encoder"):
        load_rubric(custom)
    custom.write_text(yaml.safe_dump({"items": {"vit/Encoder": {"points": -1}}}))
    with pytest.raises(RubricError, match="points must be a number >= 0, got -1"):
        load_rubric(custom)


def test_public_only_and_item_filter(staff_dir, tmp_path):
    custom = tmp_path / "rubric.yaml"
    custom.write_text(yaml.safe_dump({"items": {n: {"public": False} for n in ITEM_NAMES if n != "vit/MlpBlock"}}))
    results = grade(staff_dir, rubric=load_rubric(custom), public_only=True)
    assert [r.name for r in results] == ["vit/MlpBlock"] and results[0].score == 5


def test_timm_references_match_the_staff_classes():
    """The public references the grader compares against equal the staff's solution (eval, dropout > 0)."""
    import copy

    from autograder.grading.reference import randomize_, timm_attention, timm_mlp, timm_patch_embed
    from models import vit

    torch.manual_seed(0)
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    pairs = [
        (timm_attention({"embed_dim": 12, "num_heads": 3, "qkv_bias": True, "attn_dropout": 0.3, "proj_dropout": 0.2}),
         vit.MultiHeadSelfAttention(12, 3, True, 0.3, 0.2), x),
        (timm_mlp({"embed_dim": 12, "mlp_dim": 9, "dropout": 0.4}), vit.MlpBlock(12, 9, 0.4), x),
        (timm_patch_embed({"img_size": [8, 12], "patch_size": 4, "in_chans": 3, "embed_dim": 5}),
         vit.PatchEmbed([8, 12], 4, 3, 5), torch.randn(2, 3, 8, 12, dtype=torch.float64)),
    ]
    for ref, ours, inp in pairs:
        ref = randomize_(ref.double(), 1).eval()
        ours = ours.double().eval()
        ours.load_state_dict(copy.deepcopy(ref.state_dict()))
        torch.testing.assert_close(ours(inp), ref(inp), rtol=1e-12, atol=1e-12)


def test_handout_mode_without_staff_files(monkeypatch, staff_dir):
    """In the handout there is no autograder/staff/: built-in public rubric, no catalogue, still graded."""
    import sys

    from autograder.grading import diagnosis, rubric

    monkeypatch.setattr(rubric, "STAFF_RUBRIC", staff_dir / "no-such-rubric.yaml")
    monkeypatch.setitem(sys.modules, "autograder.staff.mistakes", None)
    monkeypatch.setitem(sys.modules, "autograder.staff.containers", None)
    assert diagnosis.load_mistakes() == []
    assert load_rubric()["items"]["vit/MlpBlock"]["points"] == DEFAULT_RUBRIC["items"]["vit/MlpBlock"]["points"]
    text = staff_text(VIT).replace("attn = attn.softmax(dim=-1)", "attn = attn.softmax(dim=-2)")
    root = make_submission(staff_dir.parent / "handout_mode", {VIT: text})
    res = grade(root, public_only=True, items=["vit/MultiHeadSelfAttention", "vit/MlpBlock", "vit/Encoder"])
    assert [r.score for r in res] == [5, 0, 5]
    # the public part of the catalogue names the mistake without any staff file
    assert "Diagnosis: your results match a known mistake: the softmax runs over the queries" in res[1].output


def test_student_classes_are_built_only_with_the_contracts_argument_types():
    """DESIGN.md §4: img_size is an int. Every case builds the student's class with an int; the
    non-square coverage of PatchEmbed comes from its input (issue 12 item 1)."""
    from autograder.grading.reference import ITEMS
    from autograder.grading import cases_for

    non_square = 0
    for name in ("vit/PatchEmbed", "vit/VisionTransformer", "vit/end_to_end"):
        for case in cases_for(ITEMS[name]):
            assert isinstance(case.payload["kwargs"]["img_size"], int), (name, case.label)
            h, w = case.payload["inputs"][0].shape[-2:]
            non_square += h != w
    assert non_square >= 2  # PatchEmbed's 12x20 and 9x6 images


def test_dropout_active_in_eval_mode_is_named_not_just_an_output_error(tmp_path):
    """F.dropout without training=self.training: the output differs from the reference (whose dropout
    is off in eval mode), and the feedback says why instead of only giving the max error."""
    text = staff_text("models/alexnet.py").replace(
        "return self.classifier(torch.flatten(x, 1))",
        "return self.classifier(torch.nn.functional.dropout(torch.flatten(x, 1), 0.5))")
    res = grade(make_submission(tmp_path, {"models/alexnet.py": text}), items=["alexnet/AlexNet"])[0]
    assert res.score < res.max_score
    assert "two runs in eval mode gave different outputs" in res.output
    assert "training=self.training" in res.output
