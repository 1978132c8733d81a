"""The worksheet grader: parsing, reading answers, scoring, visibility, the CLI and the TA round trip."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from autograder import worksheet as ws
from autograder.results import TestResult as Result  # not collected by pytest

STAFF = ws.STAFF_WORKSHEET

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


@pytest.fixture(scope="module")
def staff_text() -> str:
    return STAFF.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def key(staff_text):
    questions, _ = ws.load_key()
    return questions


@pytest.fixture(scope="module")
def blank_text(staff_text) -> str:
    """The released worksheet, made by the release's own stripping (nbgrader's ClearSolutions)."""
    from autograder.markers import strip_text

    return strip_text(staff_text, "markdown", "WORKSHEET.md")


def image_paths(text: str) -> list[str]:
    return sorted(set(ws.image_links(text)))


def make_submission(folder: Path, text: str, images: list[str] | None = None) -> Path:
    """A submission folder holding WORKSHEET.md and tiny real PNG files for ``images``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "WORKSHEET.md").write_text(text, encoding="utf-8")
    for rel in images if images is not None else image_paths(text):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4), (200, 30, 30)).save(p)
    return folder


def fill(blank: str, answers: dict[str, str]) -> str:
    """The blank worksheet with the stub of each given question replaced by an answer."""
    for qid, text in answers.items():
        pattern = re.compile(rf"(<!-- answer {re.escape(qid)} -->\n){re.escape(ws.STUB)}(\n<!-- end answer {re.escape(qid)} -->)")
        blank, n = pattern.subn(lambda m: m.group(1) + text + m.group(2), blank)
        assert n == 1, f"question {qid} not found once in the blank worksheet"
    return blank


def by_name(results: list[Result]) -> dict[str, Result]:
    return {r.name: r for r in results}


# -------------------------------------------------------------------------------------------
# The key and the release
# -------------------------------------------------------------------------------------------
def test_staff_worksheet_grades_to_full_marks(tmp_path, staff_text, key):
    sub = make_submission(tmp_path / "staff", staff_text)
    results = ws.grade_worksheet(sub)
    graded = [r for r in results if r.name != ws.KEY_ENTRY]
    assert [r.name for r in graded] == [f"worksheet/{q}" for q in key]
    short = [(r.name, r.score, r.max_score, r.output) for r in graded if r.score != r.max_score]
    assert not short, f"staff answers that do not get full marks: {short}"


def test_blank_worksheet_grades_to_zero_and_unanswered(tmp_path, blank_text, key):
    assert ws.STUB in blank_text and "57,823,240" not in blank_text
    results = ws.grade_worksheet(make_submission(tmp_path / "blank", blank_text, images=[]))
    graded = [r for r in results if r.name != ws.KEY_ENTRY]
    assert len(graded) == len(key) >= 40
    for r in graded:
        assert r.score == 0 and r.status == "failed", r
        assert r.output == "unanswered", (r.name, r.output)


def test_the_blank_keeps_every_answer_marker(staff_text, blank_text):
    staff_ids = list(ws.reference_answers(staff_text))
    parsed = ws.parse_worksheet(blank_text, template=staff_text)
    assert list(parsed) == staff_ids
    assert all(a.found == "markers" and not a.answered for a in parsed.values())


def test_ids_are_unique_and_the_rubric_matches(staff_text, key):
    ids = re.findall(r"<!-- answer (q[\w.]+) -->", staff_text)
    assert len(ids) == len(set(ids)) == len(key)
    kinds = {q.kind for q in key.values()}
    assert kinds == set(ws.KINDS)


def test_rubric_errors_name_the_question(tmp_path):
    with pytest.raises(ws.WorksheetError, match="q1.*kind"):
        ws.check_rubric({"questions": {"q1": {"kind": "essay", "points": 1}}})
    with pytest.raises(ws.WorksheetError, match="q2.*add up"):
        ws.check_rubric({"questions": {"q2": {"kind": "short", "points": 2, "patterns": [{"re": "a", "points": 1}]}}})
    with pytest.raises(ws.WorksheetError, match="q3.*regular expression"):
        ws.check_rubric({"questions": {"q3": {"kind": "short", "points": 1, "patterns": [{"re": "(", "points": 1}]}}})
    with pytest.raises(ws.WorksheetError, match="staff-only"):
        ws.load_rubric(tmp_path / "missing.yaml")
    rubric = ws.load_rubric()
    del rubric["questions"]["q0.1"]
    with pytest.raises(ws.WorksheetError, match=r"worksheet only: \['q0.1'\]"):
        ws.load_key(rubric=rubric)


# -------------------------------------------------------------------------------------------
# Reading numbers, choices, images
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("57.8M", 57.8e6), ("57,823,240", 57823240), ("5.78e7", 5.78e7), ("~57.82 million", 57.82e6),
    ("99.28K", 99280), ("1.2 billion", 1.2e9), ("57 823 240 params", 57823240), ("5.78 x 10^7", 5.78e7),
    ("5.78*10**7", 5.78e7), ("**57,823,240**", 57823240), ("`57823240`", 57823240), ("≈ 57.8 M", 57.8e6),
    ("17.6 GFLOPs", 17.6e9), ("-1", -1), ("77%", 77), ("0.23k", 230), ("Answer: 12 (not 13)", 12),
    ("ViT-B/16 has 86.6M parameters", 86.6e6), ("ResNet18 with 3x3 convs: 11.2M", 11.2e6),
    ("50,000 - 5,000 = 45,000", 45000), ("5.78E+07", 5.78e7),
])
def test_read_number(text, value):
    num, _ = ws.read_number(text)
    assert num is not None and num.value == pytest.approx(value, rel=1e-9), (text, num)


@pytest.mark.parametrize("text, value", [("231 MB", 231e6), ("220.6 MiB", 220.6 * 2**20), ("0.23 GB", 0.23e9),
                                         ("231,292,960 bytes", 231292960), ("41.5GB", 41.5e9)])
def test_read_bytes(text, value):
    num, _ = ws.read_number(text, unit="bytes")
    assert num.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "no idea", "a lot", "ResNet18", "ViT-B/16"])
def test_read_number_none(text):
    assert ws.read_number(text)[0] is None


@pytest.mark.parametrize("text, letter", [("b", "b"), ("(b)", "b"), ("B)", "b"), ("**(B)**", "b"),
                                          ("b. It switches dropout and batch norm", "b"), ("Answer: c", "c"),
                                          ("I think it is (d) because...", "d"), ("option a", "a")])
def test_read_choice(text, letter):
    assert ws.read_choice(text, ["a", "b", "c", "d"])[0] == letter


@pytest.mark.parametrize("text, problem", [("(a) or (b)", "several"), ("it depends", "could not read")])
def test_read_choice_problems(text, problem):
    got, msg = ws.read_choice(text, ["a", "b", "c", "d"])
    assert got is None and problem in msg


def test_image_links_markdown_and_html():
    text = 'see ![plot](images/a.png) and <img src="images/b.jpg" width=300> and ![x](<images/c d.png>)'
    assert ws.image_links(text) == ["images/a.png", "images/b.jpg", "images/c d.png"][:2] + ws.image_links(text)[2:]
    assert "images/a.png" in ws.image_links(text) and "images/b.jpg" in ws.image_links(text)


# -------------------------------------------------------------------------------------------
# Grading each kind
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("qid, text, full", [
    ("q3.4", "57.8M", True), ("q3.4", "57,823,240", True), ("q3.4", "5.78e7", True),
    ("q3.4", "~57.82 million", True), ("q3.4", "about 57.8 million parameters", True),
    ("q3.4", "0.0578 billion", True), ("q3.4", "57823.24K", True), ("q3.4", "57M", False),
    ("q3.4", "578M", False), ("q3.4", "5.78", False),
    ("q3.2", "99.28K", True), ("q3.2", "99,276", True), ("q3.2", "~99.3k params", True), ("q3.2", "0.1M", False),
    ("q3.7", "231 MB", True), ("q3.7", "220.6 MiB", True), ("q3.7", "231", True), ("q3.7", "0.23 GB", True),
    ("q3.7", "57.8 MB", False),
    ("q9.7", "17.56", True), ("q9.7", "17.6 GFLOPs", True), ("q9.7", "1.756e10", True), ("q9.7", "35.1 GFLOPs", False),
    ("q9.1", "196 patches + 1 class token = 197 tokens", True), ("q9.1", "196", False),
    ("q5.2", "76.8%", True), ("q5.2", "0.768", True), ("q5.2", "12%", False),
    ("q10.9", "0.23k", True), ("q10.9", "230 TPUv3-core-days", True),
])
def test_number_answers(key, qid, text, full):
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert (grade.score == key[qid].points) is full, (qid, text, grade)


def test_unreadable_number_says_how_to_write_it(key):
    grade = ws.grade_answer(key["q3.4"], ws.Answer("q3.4", "a lot of them", "markers"))
    assert grade.status == "unreadable" and "could not read a number from 'a lot of them'" in grade.visible
    assert "57" not in grade.visible  # the example is not the answer


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


def test_free_text_completeness(key):
    q = key["q1.7"]
    short = ws.grade_answer(q, ws.Answer("q1.7", "main calls the others.", "markers"))
    assert short.score == 0 and short.status == "incomplete" and "at least" in short.visible
    long = ws.grade_answer(q, ws.Answer("q1.7", " ".join(["word"] * 60), "markers"))
    assert long.score == q.points and long.status == "complete" and "TA" in long.visible


def test_image_answers(tmp_path, key):
    from PIL import Image

    q = key["q2.8"]
    (tmp_path / "images").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "images" / "grid.png")
    (tmp_path / "notes.txt").write_text("x")
    ok = ws.grade_answer(q, ws.Answer("q2.8", "![grid](images/grid.png)", "markers"), tmp_path)
    assert ok.score == q.points
    ok_abs = ws.grade_answer(q, ws.Answer("q2.8", "![grid](/images/grid.png)", "markers"), tmp_path)
    assert ok_abs.score == q.points
    for text, msg in [("![grid](images/missing.png)", "not in your submission"),
                      ("![grid](https://example.com/a.png)", "web address"),
                      ("![grid](notes.txt)", "not an image"),
                      ("![grid](../../etc/passwd.png)", "not in your submission"),
                      ("I made a grid but forgot to link it", "no image linked")]:
        g = ws.grade_answer(q, ws.Answer("q2.8", text, "markers"), tmp_path)
        assert g.score == 0 and msg in g.visible, (text, g.visible)


# -------------------------------------------------------------------------------------------
# A whole worksheet answered with other spellings
# -------------------------------------------------------------------------------------------
SPELLINGS = {
    "q0.5": "((224 + 4 - 11) // 4) + 1 = **55**", "q2.2": "45k", "q2.7": "about 38.6 GiB",
    "q3.2": "99.28K", "q3.3": "x = 9,216", "q3.4": "~57.82 million", "q3.5": "11.17M params",
    "q3.6": "1.127e7", "q3.7": "231 MB", "q3.8": "0.925 GB", "q4.2": "1,024 images", "q5.2": "0.78",
    "q7.2": "4 (a 4 x 4 map)", "q7.6": "91.2%", "q9.1": "197 tokens", "q9.2": "Answer: 577",
    "q9.3": "86.6M", "q9.4": "304 million", "q9.5": "0.632 billion", "q9.6": "443k", "q9.7": "≈17.6 GFLOPs",
    "q9.12": "4.66e5", "q9.13": "8.6x", "q10.2": "512 images", "q10.3": "1.0", "q10.5": "5.12M",
    "q10.6": "~102 epochs", "q10.7": "164k steps", "q10.8": "99.15%", "q10.9": "0.23k",
}
WRONG = {"q3.4": "61M", "q9.1": "196", "q10.7": "41,000"}


def test_many_spellings_of_the_numbers(tmp_path, blank_text, key):
    numbers = {q for q, k in key.items() if k.kind == "number"}
    assert numbers == set(SPELLINGS), "every number question needs a spelling here"
    text = fill(blank_text, {**SPELLINGS, **WRONG})
    results = by_name(ws.grade_worksheet(make_submission(tmp_path / "s", text, images=[])))
    for qid in numbers:
        r = results[f"worksheet/{qid}"]
        expected = 0 if qid in WRONG else key[qid].points
        assert r.score == expected, (qid, r.output)


# -------------------------------------------------------------------------------------------
# Robust parsing
# -------------------------------------------------------------------------------------------
def _graded(tmp_path, text, name="s") -> dict[str, Result]:
    return by_name(ws.grade_worksheet(make_submission(tmp_path / name, text)))


def test_deleted_end_marker(tmp_path, staff_text):
    text = staff_text.replace("<!-- end answer q3.4 -->\n", "")
    r = _graded(tmp_path, text)
    assert r["worksheet/q3.4"].score == 2 and "end marker" in r["worksheet/q3.4"].output
    assert "q3.4" in r["worksheet/q3.4"].output
    assert r["worksheet/q3.5"].score == 1 and "marker" not in r["worksheet/q3.5"].output


def test_deleted_end_marker_of_free_text_stops_at_next_question(staff_text):
    text = staff_text.replace("<!-- end answer q1.7 -->\n", "")
    ans = ws.parse_worksheet(text, template=staff_text)["q1.7"]
    assert ans.found == "no end marker" and ans.text.endswith("reports images per second.")


def test_deleted_begin_marker(tmp_path, staff_text):
    text = staff_text.replace("<!-- answer q3.5 -->\n", "")
    r = _graded(tmp_path, text)
    assert r["worksheet/q3.5"].score == 1 and "begin marker" in r["worksheet/q3.5"].output
    assert r["worksheet/q3.4"].score == 2


def test_both_markers_deleted_found_by_question_text(tmp_path, staff_text):
    text = staff_text.replace("<!-- answer q3.6 -->\n", "").replace("<!-- end answer q3.6 -->\n", "")
    r = _graded(tmp_path, text)["worksheet/q3.6"]
    assert r.score == 1 and "both answer markers of q3.6" in r.output


def test_both_markers_and_question_gone_names_the_question(tmp_path, staff_text):
    start = staff_text.index("### 3.6")
    end = staff_text.index("<!-- end answer q3.6 -->\n") + len("<!-- end answer q3.6 -->\n")
    r = _graded(tmp_path, staff_text[:start] + staff_text[end:])["worksheet/q3.6"]
    assert r.score == 0 and "no answer markers for q3.6" in r.output and "<!-- answer q3.6 -->" in r.output


def test_reordered_sections_extra_text_and_headings(tmp_path, staff_text):
    part9, part10 = staff_text.index("# Part 9"), staff_text.index("# Part 10")
    moved = staff_text[:staff_text.index("# Part 0")] + staff_text[part9:part10] + \
        staff_text[staff_text.index("# Part 0"):part9] + staff_text[part10:]
    moved = moved.replace("<!-- answer q3.4 -->\n", "Let me count the layers first.\n\n<!-- answer q3.4 -->\n"
                          "## My working\n\nconv layers 3.7M, linear layers 54.1M, so in total:\n\n")
    moved = moved.replace("<!-- end answer q3.4 -->\n", "<!-- end answer q3.4 -->\n\n# My notes\n\nThat was hard (took 3 hours).\n")
    moved = moved.replace("<!-- answer q9.1 -->", "<!--answer   Q9.1-->")  # spacing and case
    r = _graded(tmp_path, moved)
    assert all(t.score == t.max_score for t in r.values()), [t.name for t in r.values() if t.score != t.max_score]


def test_answer_markers_on_one_line_and_duplicates(staff_text):
    one_line = staff_text.replace("<!-- answer q3.2 -->\n<!-- BEGIN SOLUTION -->\n99,276\n<!-- END SOLUTION -->\n"
                                  "<!-- end answer q3.2 -->", "<!-- answer q3.2 --> 99.3k <!-- end answer q3.2 -->")
    assert ws.parse_worksheet(one_line)["q3.2"].text == "99.3k"
    dup = one_line + "\n<!-- answer q3.2 -->\nsomething else\n<!-- end answer q3.2 -->\n"
    ans = ws.parse_worksheet(dup)["q3.2"]
    assert ans.text == "99.3k" and any("more than once" in w for w in ans.warnings)


def test_missing_worksheet_file(tmp_path):
    (tmp_path / "empty").mkdir()
    results = ws.grade_worksheet(tmp_path / "empty")
    assert all(r.score == 0 for r in results)
    assert "no WORKSHEET.md found" in results[0].output


def test_worksheet_in_a_zip(tmp_path, staff_text):
    import zipfile

    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as zf:
        zf.writestr("alice/WORKSHEET.md", staff_text)
    r = by_name(ws.grade_worksheet(tmp_path / "alice.zip"))
    assert r["worksheet/q3.4"].score == 2


# -------------------------------------------------------------------------------------------
# Visibility: expected answers only after publication
# -------------------------------------------------------------------------------------------
def test_expected_answers_only_after_published(tmp_path, blank_text, key):
    wrong = {q: ("(a)" if k.kind == "choice" else "777" if k.kind == "number" else "I am not sure.")
             for q, k in key.items() if k.kind in ("number", "choice", "short")}
    results = ws.grade_worksheet(make_submission(tmp_path / "w", fill(blank_text, wrong), images=[]))
    for r in results:
        if r.name == ws.KEY_ENTRY:
            assert r.visibility == "after_published" and r.max_score == 0
            assert "57,823,240" in r.output and "DATA.DATASET" in r.output
            continue
        q = key[r.name.split("/", 1)[1]]
        assert r.visibility == "visible" and r.score == 0
        secrets = [q.reference] if len(q.reference) > 3 else []
        if q.kind == "number" and q.expected is not None:
            secrets.append(ws.format_number(q.expected))
        if q.kind == "choice":
            secrets.append(f"({q.expected})")
        if q.kind == "short":
            secrets += [p.get("about", p["re"]) for p in q.spec["patterns"]]
        for s in secrets:
            assert not re.search(rf"(?<![\w.,]){re.escape(s)}(?![\w.,])", r.output), (r.name, s, r.output)
    assert all(json.dumps(r.to_json()) for r in results)  # the schema serialises


# -------------------------------------------------------------------------------------------
# The command line
# -------------------------------------------------------------------------------------------
def test_cli_table(tmp_path, staff_text, key, capsys):
    from autograder.cli import main

    sub = make_submission(tmp_path / "cli", staff_text)
    out_json = tmp_path / "results.json"
    assert main(["worksheet", str(sub / "WORKSHEET.md"), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["question", "kind", "score", "feedback"]
    rows = [ln for ln in out[2:] if not ln.startswith("total")]
    assert len(rows) == len(key)
    assert rows[0].split()[:3] == ["q0.1", "short", "2/2"]
    most = sum(q.points for q in key.values())
    assert out[-1].startswith(f"total {ws.format_number(most)}/{ws.format_number(most)}")
    data = json.loads(out_json.read_text())
    assert data["score"] == most and data["tests"][-1]["name"] == ws.KEY_ENTRY


def test_cli_bad_rubric_is_a_clear_error(tmp_path, capsys):
    from autograder.cli import main

    assert main(["worksheet", str(tmp_path), "--rubric", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml not found" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------
# TA round trip
# -------------------------------------------------------------------------------------------
def _gradebook(path: Path, graded: dict[str, list[Result]]) -> None:
    """A gradebook shaped like grade-all's: student, score, one column per test."""
    names = [r.name for r in next(iter(graded.values()))]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", *names])
        for student, results in graded.items():
            w.writerow([student, ws.format_number(round(sum(r.score for r in results), 6)), *[ws.format_number(r.score) for r in results]])


def test_ta_round_trip_changes_exactly_the_manual_scores(tmp_path, staff_text, blank_text, key, capsys):
    from autograder.cli import main
    from autograder.results import write_results

    alice = make_submission(tmp_path / "subs" / "alice", staff_text)
    bob = make_submission(tmp_path / "subs" / "bob", fill(blank_text, {"q1.7": "main calls train_one_epoch.",
                                                                       "q3.2": "99,276"}), images=[])
    ta_csv = tmp_path / "ta.csv"
    assert main(["worksheet-export", str(alice), str(bob), "--out", str(ta_csv)]) == 0
    free = [q for q, k in key.items() if k.kind == "free"]
    rows = list(csv.DictReader(open(ta_csv)))
    assert len(rows) == 2 * len(free) and set(rows[0]) == set(ws.TA_COLUMNS)
    assert {r["student"] for r in rows} == {"alice", "bob"}
    alice_q17 = next(r for r in rows if r["student"] == "alice" and r["question"] == "q1.7")
    assert alice_q17["auto_score"] == "3" and alice_q17["answer"].startswith("`main` reads the config")

    graded = {"alice": ws.grade_worksheet(alice, key_entry=False), "bob": ws.grade_worksheet(bob, key_entry=False)}
    gradebook = tmp_path / "gradebook.csv"
    _gradebook(gradebook, graded)
    results_dir = tmp_path / "results"
    for student, results in graded.items():
        write_results(str(results_dir / f"{student}.json"), results)
    before = list(csv.DictReader(open(gradebook)))

    # TAs: alice's q1.7 down to 2 with a comment, bob's q1.7 to 0.5; everything else left blank
    for r in rows:
        if r["question"] == "q1.7":
            r["ta_score"], r["ta_comment"] = ("2", "evaluate is missing") if r["student"] == "alice" else ("0.5", "")
    with open(ta_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ws.TA_COLUMNS)
        w.writeheader()
        w.writerows(rows)

    merged = tmp_path / "merged.csv"
    assert main(["worksheet-merge", str(ta_csv), "--gradebook", str(gradebook), "--out", str(merged),
                 "--results-dir", str(results_dir)]) == 0
    after = list(csv.DictReader(open(merged)))
    changed = {(b["student"], col) for b, a in zip(before, after) for col in b if b[col] != a[col]}
    assert changed == {("alice", "worksheet/q1.7"), ("alice", "score"), ("bob", "worksheet/q1.7"), ("bob", "score")}
    a, b = after[0], after[1]
    assert a["worksheet/q1.7"] == "2" and float(a["score"]) == float(before[0]["score"]) - 1
    assert b["worksheet/q1.7"] == "0.5" and float(b["score"]) == float(before[1]["score"]) + 0.5

    alice_json = json.loads((results_dir / "alice.json").read_text())
    t = next(t for t in alice_json["tests"] if t["name"] == "worksheet/q1.7")
    assert t["score"] == 2 and t["status"] == "failed" and "TA: 2/3, evaluate is missing" in t["output"]
    assert alice_json["score"] == pytest.approx(float(before[0]["score"]) - 1)


def test_ta_sheet_errors_name_the_row(tmp_path):
    bad = tmp_path / "ta.csv"
    with open(bad, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ws.TA_COLUMNS)
        w.writeheader()
        w.writerow({"student": "alice", "question": "q1.7", "max_score": "3", "auto_score": "3", "ta_score": "4"})
    with pytest.raises(ws.WorksheetError, match=r"row 2 \(alice, q1.7\).*outside \[0, 3\]"):
        ws.read_ta_scores(bad)
    bad.write_text(bad.read_text().replace(",4,", ",lots,"))
    with pytest.raises(ws.WorksheetError, match="'lots' is not a number"):
        ws.read_ta_scores(bad)
