"""autograder.grade: submission assembly, the never-crash contract, grade-all, gradebooks.

The real grading runs (seconds each) are grouped into one `grade-all --jobs 2` over three
students, shared by the tests below through a module fixture.
"""
import json
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import autograder.grade as grade
from autograder.grade import grade_all, grade_submission, write_gradebook
from autograder.submission import (
    SubmissionError, assemble, find_students, image_links, limits, list_files, locate, open_submission,
)
from autograder.release import read_stamp
from autograder import results as schema
from tests.test_release import REPO, shared_handout

CODE_ITEMS = [f"vit/{c}" for c in ("PatchEmbed", "AddPositionEmbs", "MlpBlock", "MultiHeadSelfAttention",
                                   "Encoder1DBlock", "Encoder", "VisionTransformer")]
STAFF_FILES = ("models/vit.py", "models/alexnet.py", "models/resnet.py", "WORKSHEET.md")


def _zip(path: Path, entries: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _staff_copy(dest: Path, files=STAFF_FILES) -> Path:
    """The staff solution as a student would hand it in, with a tiny real PNG for each image question."""
    for rel in files:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes((REPO / rel).read_bytes())
    if (dest / "WORKSHEET.md").is_file():
        from PIL import Image

        for ref in image_links((dest / "WORKSHEET.md").read_text()):
            (dest / ref).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4), (200, 30, 30)).save(dest / ref)  # a real image: the grader opens it
    return dest


# ---- assembly (no grading) -------------------------------------------------------------------

def test_locate_finds_nested_roots_and_flat_uploads():
    wanted = ["models/vit.py", "models/alexnet.py", "WORKSHEET.md", "submission.csv"]
    got = locate(["student/models/vit.py", "student/WORKSHEET.md", "student/notes.txt"], wanted)
    assert got.root == "student/" and got.found == {"models/vit.py": "student/models/vit.py", "WORKSHEET.md": "student/WORKSHEET.md"}
    got = locate(["vit.py", "submission.csv", "extra/other.py"], wanted)
    assert got.found == {"models/vit.py": "vit.py", "submission.csv": "submission.csv"}
    assert got.notes == ["found vit.py and graded it as models/vit.py"]


def test_assemble_subset_takes_only_editable_files(tmp_path):
    handout = shared_handout()
    sub = tmp_path / "sub"
    (sub / "models").mkdir(parents=True)
    (sub / "models" / "vit.py").write_text("# mine\n")
    (sub / "main.py").write_text("raise SystemExit('student edited main.py')\n")
    (sub / "submission.csv").write_text("Id,Category\n0,1\n")
    (sub / "images").mkdir()
    (sub / "images" / "curve.png").write_bytes(b"\x89PNG")
    a = assemble(sub, handout, tmp_path / "work")
    assert sorted(a.taken) == ["images/curve.png", "models/vit.py", "submission.csv"]
    assert (a.workdir / "models/vit.py").read_text() == "# mine\n"
    assert (a.workdir / "main.py").read_bytes() == (handout / "main.py").read_bytes()
    assert (a.workdir / "models/alexnet.py").read_bytes() == (handout / "models/alexnet.py").read_bytes()
    assert any("main.py" in n and "not graded" in n for n in a.notes)
    assert not (a.workdir / ".handout.json").exists()


def test_assemble_worksheet_images_and_symlinks(tmp_path):
    handout = shared_handout()
    sub = tmp_path / "sub"
    (sub / "plots").mkdir(parents=True)
    (sub / "plots" / "lr.jpg").write_bytes(b"\xff\xd8")
    (sub / "WORKSHEET.md").write_text("![lr](plots/lr.jpg) ![x](../../etc/passwd.png) ![u](https://x/y.png)\n")
    (sub / "models").mkdir()
    (sub / "models" / "vit.py").symlink_to("/etc/passwd")
    a = assemble(sub, handout, tmp_path / "work")
    assert sorted(a.taken) == ["WORKSHEET.md", "plots/lr.jpg"]
    assert any("symbolic links" in n for n in a.notes)
    assert (a.workdir / "models/vit.py").read_bytes() == (handout / "models/vit.py").read_bytes()


def test_open_submission_zip_nested_folder_and_single_file(tmp_path):
    z = _zip(tmp_path / "s.zip", {"alice/models/vit.py": b"# alice\n", "alice/": b"", "__MACOSX/alice/._vit.py": b"x"})
    folder, notes = open_submission(z, tmp_path / "unz")
    assert notes == []
    a = assemble(folder, shared_handout(), tmp_path / "work")
    assert a.taken == ["models/vit.py"] and (a.workdir / "models/vit.py").read_text() == "# alice\n"
    (tmp_path / "vit.py").write_text("# flat\n")
    folder, _ = open_submission(tmp_path / "vit.py", tmp_path / "single")
    assert list_files(folder) == (["vit.py"], [])


@pytest.mark.parametrize("entries, links, words", [
    ({"../evil.py": b"x"}, (), "outside the zip"),
    ({"/abs/evil.py": b"x"}, (), "outside the zip"),
    ({"a/../../evil.py": b"x"}, (), "outside the zip"),
    ({}, ("models/vit.py",), "symbolic link"),
])
def test_unsafe_zips_rejected(tmp_path, entries, links, words):
    z = _zip(tmp_path / "bad.zip", entries, links)
    with pytest.raises(SubmissionError, match=words):
        open_submission(z, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_zip_bomb_and_garbage_rejected(tmp_path, monkeypatch):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("models/vit.py", b"\0" * (3 * 2**20))  # compresses ~1000x
    with pytest.raises(SubmissionError, match="expands"):
        open_submission(z, tmp_path / "out")
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 10)
    with pytest.raises(SubmissionError, match="expands to"):
        open_submission(_zip(tmp_path / "big.zip", {"a.py": b"x" * 100}), tmp_path / "out2")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(SubmissionError, match="not a readable zip"):
        open_submission(tmp_path / "junk.zip", tmp_path / "out3")
    with pytest.raises(SubmissionError, match="does not exist"):
        open_submission(tmp_path / "missing", tmp_path / "out4")


def test_oversized_files_are_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    z = _zip(tmp_path / "s.zip", {"models/vit.py": b"# ok\n", "datasets/big.bin": b"\1" * 1000})
    folder, notes = open_submission(z, tmp_path / "out")
    assert (folder / "models/vit.py").is_file() and not (folder / "datasets/big.bin").exists()
    assert "datasets/big.bin" in notes[0] and "over" in notes[0]
    (folder / "submission.csv").write_bytes(b"x" * 1000)  # a folder submission: skipped at assembly
    a = assemble(folder, shared_handout(), tmp_path / "work")
    assert a.taken == ["models/vit.py"] and any("submission.csv" in n and "limit" in n for n in a.notes)


def test_find_students(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "alice.zip").write_bytes(b"")
    (tmp_path / "alice").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    assert list(find_students(tmp_path)) == ["alice", "alice-2", "bob"]
    with pytest.raises(SubmissionError, match="not a folder"):
        find_students(tmp_path / "notes.txt")


# ---- the never-crash contract (grading stubbed out: fast) -----------------------------------

@pytest.fixture
def fake_code(monkeypatch):
    calls = []

    def fake(workdir, limits=None, privileged=None):
        calls.append(workdir)
        text = (Path(workdir) / "models/vit.py").read_text()
        ok = "raise NotImplementedError" not in text
        return [schema.TestResult("vit/PatchEmbed", 5.0 if ok else 0.0, 5.0)], ["fake protection"]

    monkeypatch.setattr(grade, "grade_code", fake)
    monkeypatch.setattr(grade, "grade_worksheet_items", lambda *a, **k: [])
    monkeypatch.setattr(grade, "grade_kaggle_item", lambda workdir: [])
    return calls


def test_bad_zip_still_writes_results_replacing_a_stale_file(tmp_path, fake_code):
    out = tmp_path / "res" / "results.json"
    out.parent.mkdir()
    out.write_text('{"score": 1000, "tests": []}')  # stale or forged
    z = _zip(tmp_path / "bad.zip", {"../../x.py": b"x"})
    data = grade_submission(z, out, REPO, shared_handout())
    assert json.loads(out.read_text()) == data
    assert data["score"] == 0 and [t["name"] for t in data["tests"]] == ["vit/PatchEmbed"]
    assert "outside the zip" in data["output"] and "fake protection" in data["output"]
    assert not list(out.parent.glob("*.tmp"))


def _rubric_items() -> dict[str, float]:
    from autograder.grading import load_rubric

    return {k: float(v["points"]) for k, v in load_rubric()["items"].items()}


def _questions() -> dict[str, float]:
    from autograder.worksheet import load_key

    return {f"worksheet/{q}": k.points for q, k in load_key()[0].items()}


def test_an_item_that_raises_costs_only_that_item(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "grade_code", lambda w, limits=None, privileged=None: ([schema.TestResult("vit/X", 1, 1)], []))
    import autograder.kaggle as kaggle
    import autograder.worksheet as worksheet

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(worksheet, "grade_worksheet", boom)
    monkeypatch.setattr(kaggle, "grade_submission_item", boom)
    data = grade_submission(tmp_path / "missing-folder", tmp_path / "r.json", REPO, shared_handout())
    by_name = {t["name"]: t for t in data["tests"]}
    assert by_name["vit/X"]["score"] == 1
    questions = _questions()
    assert {n: by_name[n]["max_score"] for n in questions} == questions  # one zero per question, full max
    assert all(by_name[n]["score"] == 0 and "kaboom" in by_name[n]["output"] for n in questions)
    assert by_name["kaggle/submission"]["status"] == "failed" and by_name["kaggle/submission"]["max_score"] > 0
    assert "does not exist" in data["output"]


def test_steps_are_declared_in_order():
    assert [s.name for s in grade.STEPS] == ["open", "assemble", "code", "worksheet", "kaggle"]


@pytest.mark.parametrize("broken", ["code", "worksheet", "kaggle"])
def test_a_failing_step_zeroes_only_its_own_items(tmp_path, monkeypatch, broken):
    """Each graded step fails in turn; the other steps' items keep their scores."""
    code = [schema.TestResult("vit/X", 1, 1)]
    ws = [schema.TestResult("worksheet/q0.5", 2, 2)]
    kg = [schema.TestResult("kaggle/submission", 3, 10)]

    def boom(*a, **k):
        raise RuntimeError(f"{broken} broke")

    monkeypatch.setattr(grade, "grade_code", boom if broken == "code" else lambda *a, **k: (code, ["p"]))
    monkeypatch.setattr(grade, "grade_worksheet_items", boom if broken == "worksheet" else lambda *a, **k: ws)
    monkeypatch.setattr(grade, "grade_kaggle_item", boom if broken == "kaggle" else lambda w: kg)
    data = grade_submission(tmp_path, tmp_path / "r.json", REPO, shared_handout())
    by_name = {t["name"]: t for t in data["tests"]}
    expect = {"code": _rubric_items(), "worksheet": _questions(), "kaggle": {"kaggle/submission": 10.0}}
    for step, items in expect.items():
        if step == broken:
            assert all(by_name[n]["score"] == 0 and f"{broken} broke" in by_name[n]["output"] for n in items)
            assert {n: by_name[n]["max_score"] for n in items} == pytest.approx(items)
    kept = {"code": code, "worksheet": ws, "kaggle": kg}
    for step, tests in kept.items():
        if step != broken:
            assert all(by_name[t.name]["score"] == t.score for t in tests)


def test_grader_crash_in_assembly_zeroes_every_item_and_still_writes(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(grade, "assemble", broken)
    monkeypatch.setattr(grade, "grade_worksheet_items", broken)
    data = grade_submission(tmp_path, tmp_path / "r.json", REPO, shared_handout())
    names = [t["name"] for t in data["tests"]]
    assert set(_rubric_items()) <= set(names) and set(_questions()) <= set(names) and "kaggle/submission" in names
    assert data["score"] == 0 and "could not put your files onto the handout" in data["output"]
    assert json.loads((tmp_path / "r.json").read_text())["tests"][0]["status"] == "failed"


def test_write_gradebook_columns(tmp_path):
    results = {
        "bob": {"score": 3, "tests": [{"name": "vit/A", "score": 1, "max_score": 1}, {"name": "kaggle/submission", "score": 2, "max_score": 5}]},
        "alice": {"score": 1, "tests": [{"name": "vit/A", "score": 1, "max_score": 1}]},
    }
    df = pd.read_csv(write_gradebook(results, tmp_path / "gradebook.csv"))
    assert list(df.columns) == ["student", "vit/A", "kaggle/submission", "total"]
    assert df["student"].tolist() == ["alice", "bob"] and df["total"].tolist() == [1, 3]


def test_gradebook_neutralises_formula_names(tmp_path):
    results = {"=HYPERLINK(1)": {"score": 1, "tests": [
        {"name": "worksheet/q0.1", "score": 1, "max_score": 2},
        {"name": "worksheet/answer-key/part-0", "score": 0, "max_score": 0}]}}
    path = write_gradebook(results, tmp_path / "gradebook.csv")
    df = pd.read_csv(path, dtype=str)
    assert list(df.columns) == ["student", "worksheet/q0.1", "worksheet/answer-key/part-0", "total"]
    assert df["student"].tolist() == ["'=HYPERLINK(1)"]


# ---- real grading: one grade-all over three students --------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    subs = root / "subs"
    _staff_copy(subs / "staff")  # the staff solution as a student folder
    handout = shared_handout()
    blank = {rel: (handout / rel).read_bytes() for rel in read_stamp(handout)["editable"]}
    _zip(subs / "blank.zip", blank)  # the untouched handout
    _zip(subs / "nested.zip", {"carol/models/vit.py": (REPO / "models/vit.py").read_bytes()})
    out = root / "out"
    db = root / "gradebook.db"
    results = grade_all(subs, out, jobs=2, repo=REPO, nbgrader_db=str(db), assignment="hw", progress=False,
                        handout=handout)
    return results, out, db


def test_grade_all_writes_json_per_student_and_gradebook(graded):
    results, out, _ = graded
    assert sorted(p.name for p in out.glob("*.json")) == ["blank.json", "nested.json", "staff.json"]
    names = [t["name"] for t in results["staff"]["tests"]]
    df = pd.read_csv(out / "gradebook.csv")
    assert list(df.columns) == ["student", *names, "total"]
    assert df["student"].tolist() == ["blank", "nested", "staff"]
    for name, row in df.set_index("student").iterrows():
        on_disk = json.loads((out / f"{name}.json").read_text())
        assert row["total"] == pytest.approx(on_disk["score"])
        assert set(t["name"] for t in on_disk["tests"]) >= set(CODE_ITEMS) | {"kaggle/submission"}
        assert "sandbox" in on_disk["output"]


def test_staff_solution_gets_full_marks_on_every_code_item(graded):
    results, _, _ = graded
    tests = {t["name"]: t for t in results["staff"]["tests"]}
    code = [n for n in tests if n.split("/")[0] in ("vit", "alexnet", "resnet")]
    assert set(CODE_ITEMS) <= set(code)
    for name in code:
        assert tests[name]["score"] == tests[name]["max_score"] > 0, (name, tests[name]["output"][:800])
    worksheet = [t for n, t in tests.items() if n.startswith("worksheet/q")]
    assert worksheet and all(t["score"] == t["max_score"] for t in worksheet), [t["name"] for t in worksheet if t["score"] != t["max_score"]]


def test_untouched_handout_scores_zero_on_every_student_item(graded):
    results, _, _ = graded
    for t in results["blank"]["tests"]:
        if t["max_score"] > 0:
            assert t["score"] == 0, (t["name"], t["output"][:300])
    assert results["blank"]["score"] == 0


def test_nested_zip_vit_only_is_found(graded):
    results, _, _ = graded
    tests = {t["name"]: t for t in results["nested"]["tests"]}
    assert all(tests[n]["score"] == tests[n]["max_score"] for n in CODE_ITEMS), results["nested"]["output"]
    assert tests["alexnet/AlexNet"]["score"] == 0  # not handed in: the stub from the handout
    assert "models/vit.py" in results["nested"]["output"]


def test_nbgrader_gradebook_exports(graded, tmp_path):
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    results, _, db = graded
    with Gradebook(f"sqlite:///{db}") as gb:
        CsvExportPlugin(to=str(tmp_path / "grades.csv")).export(gb)  # what `nbgrader export` runs
    exported = pd.read_csv(tmp_path / "grades.csv")
    assert exported["assignment"].unique().tolist() == ["hw"]
    scores = exported.set_index("student_id")["score"].to_dict()
    assert scores == pytest.approx({name: data["score"] for name, data in results.items()})


def test_cli_grade_all_parallel_with_fake_items(tmp_path, fake_code, capsys):
    from autograder.cli import main

    subs = tmp_path / "subs"
    _zip(subs.mkdir() or subs / "ann.zip", {"models/vit.py": b"# done\n"})
    (subs / "ben").mkdir()
    out = tmp_path / "out"
    args = ["--out", str(out), "--jobs", "2", "--repo", str(REPO), "--handout", str(shared_handout())]
    assert main(["grade-all", str(subs), *args]) == 0
    df = pd.read_csv(out / "gradebook.csv")
    assert df.to_dict("list") == {"student": ["ann", "ben"], "vit/PatchEmbed": [5.0, 0.0], "total": [5.0, 0.0]}
    assert "graded 2 students" in capsys.readouterr().out
    assert main(["grade-all", str(tmp_path / "nope"), "--out", str(out)]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_code_items_crash_gives_one_zero_per_rubric_item(tmp_path, monkeypatch):
    import autograder.grading as grading
    import autograder.sandbox as sandbox

    class FakeSandbox:
        protections = ["fake"]

        def __init__(self, *a, **k):
            pass

        def start(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def boom(*a, **k):
        raise RuntimeError("grading bug")

    monkeypatch.setattr(sandbox, "Sandbox", FakeSandbox)
    monkeypatch.setattr(grading, "grade_code_items", boom)
    tests, protections = grade.grade_code(tmp_path)
    items = grading.load_rubric()["items"]
    assert [t.name for t in tests] == list(items) and protections == ["fake"]
    assert all(t.score == 0 and t.max_score == items[t.name]["points"] and "grading bug" in t.output for t in tests)


def test_assemble_copies_only_what_the_release_ships(tmp_path):
    """`grade --handout DIR` with a handout someone worked in: its .venv (here a link, as when a TA
    links a shared one; `make test` makes a real one), runs and caches are not copied per student
    (a linked venv made one grade take minutes)."""
    import shutil

    handout = tmp_path / "handout"
    shutil.copytree(shared_handout(), handout, symlinks=True)
    venv = tmp_path / "shared-venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "big.so").write_bytes(b"\0" * 1024)
    (handout / ".venv").symlink_to(venv, target_is_directory=True)
    (handout / "output" / "run").mkdir(parents=True)
    (handout / "output" / "run" / "submission.csv").write_text("Id,Category\n0,1\n")
    (handout / "models" / "__pycache__").mkdir()
    (handout / "models" / "__pycache__" / "vit.cpython-311.pyc").write_bytes(b"x")
    sub = tmp_path / "sub"
    (sub / "models").mkdir(parents=True)
    (sub / "models" / "vit.py").write_text("# mine\n")
    a = assemble(sub, handout, tmp_path / "work")
    assert not (a.workdir / ".venv").exists() and not (a.workdir / ".venv").is_symlink()
    assert not (a.workdir / "output").exists()
    assert not (a.workdir / "models" / "__pycache__").exists()
    assert (a.workdir / "models" / "vit.py").read_text() == "# mine\n"
    assert (a.workdir / "main.py").read_bytes() == (handout / "main.py").read_bytes()
    # the public cases' expected results (some are graded cases) stay out of the graded child's tree
    assert (handout / "autograder" / "grading" / "public_checks.pt").is_file()
    assert not (a.workdir / "autograder" / "grading" / "public_checks.pt").exists()


@pytest.mark.parametrize("work", ["solved model", "left-over submission.csv"])
def test_a_worked_in_handout_is_refused_as_the_grading_base(tmp_path, capsys, work):
    """A student's missing files come from --handout: a handout someone worked in would lend its
    solved model or its submission.csv to every student who did not hand one in."""
    import shutil

    from autograder.cli import main

    handout = tmp_path / "handout"
    shutil.copytree(shared_handout(), handout, symlinks=True)
    assert main(["grade", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.json"), "--handout",
                 str(handout), "--repo", str(REPO)]) == 0, "an untouched handout is accepted"
    assert (tmp_path / "x.json").is_file()
    capsys.readouterr()
    if work == "solved model":
        (handout / "models" / "vit.py").write_text((REPO / "models" / "vit.py").read_text())
        named = "models/vit.py"
    else:
        (handout / "submission.csv").write_text("Id,Category\n0,1\n")
        named = "submission.csv"
    for command in (["grade", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.json")],
                    ["grade-all", str(tmp_path), "--out", str(tmp_path / "out")]):
        assert main(command + ["--handout", str(handout), "--repo", str(REPO)]) == 2
        err = capsys.readouterr().err
        assert "not an untouched handout" in err and named in err and "release --out" in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("ram", ["room", "copy fails there", "no room"])
def test_the_assembled_submission_goes_to_ram_when_there_is_room_and_is_removed(tmp_path, monkeypatch, ram):
    """The ~180 files of the handout are copied per student into a RAM folder where it has room
    (as the sandbox stages its files), else into the scratch folder; a copy that fails in RAM is made
    again on disk; nothing stays behind, and the grading is the same."""
    import autograder.sandbox.sandbox as sandbox_module

    fake_ram = tmp_path / "shm"
    fake_ram.mkdir()
    monkeypatch.setattr(sandbox_module, "_STAGE_DIRS", (str(fake_ram),))
    if ram == "no room":
        monkeypatch.setattr(sandbox_module, "_STAGE_MIN_FREE_MB", 1 << 40)
    seen: list[Path] = []
    real_assemble = grade.assemble

    def watch(folder, handout, dest):
        seen.append(Path(dest))
        if ram == "copy fails there" and Path(dest).is_relative_to(fake_ram):
            Path(dest).mkdir(parents=True)
            raise OSError(28, "No space left on device")
        return real_assemble(folder, handout, dest)

    workdirs: list[Path] = []
    monkeypatch.setattr(grade, "assemble", watch)
    monkeypatch.setattr(grade, "grade_code", lambda workdir, *a: (workdirs.append(Path(workdir)) or [], []))
    sub = tmp_path / "sub"
    (sub / "models").mkdir(parents=True)
    (sub / "models" / "vit.py").write_text("# mine\n")
    data = grade_submission(sub, tmp_path / "r.json", handout=shared_handout())
    assert "models/vit.py" in data["extra_data"]["taken"]
    in_ram = [d.is_relative_to(fake_ram) for d in seen]
    assert in_ram == {"room": [True], "copy fails there": [True, False], "no room": [False]}[ram]
    assert workdirs == [seen[-1]]
    assert list(fake_ram.iterdir()) == []  # the RAM folder is removed with the rest
