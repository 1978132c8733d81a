"""The reference store (issue 16): graded cases kept on disk between runs, bit for bit, so that a
`grade` of one submission reads them instead of importing timm and running every reference."""
from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import torch

import autograder.grading as grading
from autograder.grading import ITEM_NAMES, grade_code_items, live_cases, store
from autograder.grading.reference import ITEMS
from tests.test_items_support import REPO, InProcessSandbox, make_submission, staff_text

VIT = "models/vit.py"


def _identical(a, b, where: str = "") -> None:
    """Equal in type, and for tensors in dtype, shape, strides, requires_grad and every bit."""
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape, a.stride(), a.requires_grad) == (b.dtype, b.shape, b.stride(), b.requires_grad), where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture
def made() -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as prepare_references makes them
    try:
        return {name: live_cases(ITEMS[name]) for name in ITEM_NAMES}
    finally:
        torch.set_num_threads(threads)


def test_stored_cases_equal_the_made_ones_bit_for_bit(tmp_path, made):
    path = store.save(made, cache=tmp_path)
    assert path is not None and path.parent == tmp_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # hidden reference results: the owner only
    back = store.load(tmp_path).cases
    assert list(back) == list(ITEM_NAMES)
    for name in ITEM_NAMES:
        assert len(back[name]) == len(made[name])
        for b, m in zip(back[name], made[name]):
            assert b.reference is None and b.label == m.label
            _identical(b.payload, m.payload, f"{name} payload")
            _identical(b.expected, m.expected, f"{name} expected")


def test_a_changed_grader_source_or_a_damaged_file_is_not_read(tmp_path, made, monkeypatch):
    store.save(made, cache=tmp_path)
    assert store.load(tmp_path) is not None
    # another fingerprint (as after an edit of reference.py): the stored file is not this one's
    source = tmp_path / "reference.py"
    source.write_text("# v1\n")
    monkeypatch.setattr(store, "_SOURCES", (*store._SOURCES, source))
    first = store.fingerprint()
    source.write_text("# v2\n")
    assert store.fingerprint() != first
    assert store.load(tmp_path) is None
    # a damaged file of the current fingerprint
    store.store_path(tmp_path).write_bytes(b"not a torch file")
    assert store.load(tmp_path) is None
    # a file missing an item, or well formed with no cases (every item would divide by zero cases)
    torch.save({"cases": {"vit/PatchEmbed": []}, "mistake_outputs": {}}, store.store_path(tmp_path))
    assert store.load(tmp_path) is None
    torch.save({"cases": {n: [] for n in ITEM_NAMES}, "mistake_outputs": {}}, store.store_path(tmp_path))
    assert store.load(tmp_path) is None


def test_save_refuses_an_incomplete_set_and_survives_an_unwritable_cache(tmp_path, made, monkeypatch):
    with pytest.raises(ValueError, match="missing"):
        store.save({"vit/PatchEmbed": made["vit/PatchEmbed"]}, cache=tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert store.save(made, cache=blocked / "cache") is None  # a file where the folder should be

    def disk_full(*a, **k):  # what torch.save raises when the disk fills up while it writes
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 965504 vs 965424")

    monkeypatch.setattr(store.torch, "save", disk_full)
    assert store.save(made, cache=tmp_path / "full") is None
    assert list((tmp_path / "full").iterdir()) == []  # no half-written file left behind


def test_prepare_references_reads_the_store_and_makes_nothing(tmp_path, made, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path))
    monkeypatch.setattr(grading, "_CASES", {})
    monkeypatch.setattr(grading, "_LIVE", {})

    def no_make():
        raise AssertionError("a case was made although the store is current")

    store.store_path().write_bytes(b"garbage")  # a damaged store is replaced by the next run
    grading.prepare_references()
    assert store.load() is not None and store.load().mistake_outputs
    monkeypatch.setattr(grading, "_CASES", {})
    monkeypatch.setattr(grading, "_LIVE", {})
    monkeypatch.setattr(grading, "ITEMS", {n: ITEMS[n].__class__(**{**vars(ITEMS[n]), "make_cases": no_make})
                                           for n in ITEM_NAMES})
    grading.prepare_references()
    assert all(grading._CASES[n][0].reference is None for n in ITEM_NAMES) and not grading._LIVE


@pytest.mark.parametrize("outputs", ["stored", "not stored"])
def test_scores_and_diagnosis_are_the_same_from_the_store(tmp_path, made, monkeypatch, outputs):
    """A wrong submission graded on stored cases gets the same scores and feedback, the diagnosis
    included, as on made cases: from the stored mutant outputs without any reference module, or,
    for a mistake the store lacks, from the reference modules made when needed."""
    text = staff_text(VIT).replace("attn = attn.softmax(dim=-1)", "attn = attn.softmax(dim=-2)")
    root = make_submission(tmp_path / "sub", {VIT: text})
    items = ["vit/MultiHeadSelfAttention", "vit/MlpBlock", "alexnet/AlexNet"]
    monkeypatch.setattr(grading, "_CASES", dict(made))
    monkeypatch.setattr(grading, "_MUTANT_OUTPUTS", {})
    from_made = grade_code_items(root, InProcessSandbox(root), items=items)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        mutants = grading._mutant_outputs() if outputs == "stored" else {}
    finally:
        torch.set_num_threads(threads)
    store.save(made, mutants, cache=tmp_path)
    stored = store.load(tmp_path)
    monkeypatch.setattr(grading, "_CASES", dict(stored.cases))
    monkeypatch.setattr(grading, "_MUTANT_OUTPUTS", dict(stored.mistake_outputs))
    live = grading.live_cases
    made_now: list[str] = []
    monkeypatch.setattr(grading, "live_cases", lambda item: made_now.append(item.name) or live(item))
    from_store = grade_code_items(root, InProcessSandbox(root), items=items)
    assert made_now == ([] if outputs == "stored" else ["vit/MultiHeadSelfAttention"])
    assert [(r.name, r.score, r.output) for r in from_store] == [(r.name, r.score, r.output) for r in from_made]
    attention = next(r for r in from_store if r.name == "vit/MultiHeadSelfAttention")
    assert attention.score == 0 and "Diagnosis: your results match a known mistake" in attention.output


def test_check_needs_neither_timm_nor_torchvision():
    """Every public case ships as numbers: the student's `check` makes no reference itself."""
    code = ("import sys\n"
            "from autograder.grading import ITEM_NAMES, cases_for\n"
            "from autograder.grading.reference import ITEMS\n"
            "assert all(c.expected for n in ITEM_NAMES for c in cases_for(ITEMS[n], public=True))\n"
            "print(sorted(m for m in ('timm', 'torchvision') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
