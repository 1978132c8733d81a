"""autograder.release: the handout holds no marker and no staff file; a bad staff copy fails loudly."""
import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.markers import REGIONS, find_markers
from autograder.release import (
    STAMP, ReleaseError, cached_handout, editable_files, release, shipped_files, staff_only_reason,
    verify_handout,
)

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = REGIONS["solution"]


@functools.lru_cache(maxsize=1)
def shared_handout() -> Path:
    """One release of the real staff repository per test process (shared by the pipeline tests)."""
    root = Path(tempfile.mkdtemp(prefix="test-handout-"))
    atexit.register(shutil.rmtree, root, True)
    return release(root / "handout", REPO).out


def _fake_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    base = {
        "README.md": "# course (staff)\n",
        "handouts/README.md": "# course (students)\n",
        "main.py": "print('hi')\n",
        "models/__init__.py": "",
        "models/net.py": f"def f():\n    ### {BEGIN}\n    return 42\n    ### {END}\n",
        "autograder/__init__.py": "",
        "autograder/results.py": "X = 1\n",
        "autograder/staff/rubric.yaml": "secret: 1\n",
        "tests/test_secret.py": "assert True\n",
    }
    for rel, text in {**base, **files}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    return repo


def test_fake_repo_release_strips_and_leaves_staff_out(tmp_path):
    repo = _fake_repo(tmp_path, {})
    report = release(tmp_path / "out", repo)
    files = sorted(p.relative_to(report.out).as_posix() for p in report.out.rglob("*") if p.is_file())
    assert files == [STAMP, "README.md", "autograder/__init__.py", "autograder/results.py", "main.py",
                     "models/__init__.py", "models/net.py"]
    assert "raise NotImplementedError()" in (report.out / "models/net.py").read_text()
    assert (report.out / "README.md").read_text() == "# course (students)\n", "the student README ships as README.md"
    assert report.editable == ["models/net.py"] and report.stripped == ["models/net.py"]
    release(tmp_path / "out", repo)  # a previous handout is replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not a handout"):
        release(tmp_path / "other", repo)
    with pytest.raises(ReleaseError, match="inside the shipped folder models/"):
        release(repo / "models" / "out", repo)


@pytest.mark.parametrize("files, where", [
    ({"models/net.py": f"def f():\n    ### {BEGIN}\n    return 42\n"}, "models/net.py:2"),
    ({"models/bad.py": "x = 1\n# Begin Solution\ny = 2\n"}, "models/bad.py:2"),
    ({"WORKSHEET.md": f"q\n<!-- {END} -->\n"}, "WORKSHEET.md:2"),
    ({"configs/a.yaml": f"# {BEGIN}\nlr: 1\n# {END}\n"}, "configs/a.yaml:1"),
    ({"data/hidden_labels.csv": "Id,Category\n"}, "data/hidden_labels.csv"),
    ({"models/staff/ref.py": "x = 1\n"}, "models/staff/ref.py"),
])
def test_release_fails_loudly_naming_the_file(tmp_path, files, where):
    repo = _fake_repo(tmp_path, files)
    with pytest.raises(ReleaseError, match=where.replace(".", r"\.")):
        release(tmp_path / "out", repo)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_verify_catches_a_marker_or_staff_file_in_a_built_handout(tmp_path):
    out = tmp_path / "h"
    (out / "models").mkdir(parents=True)
    (out / "models" / "a.py").write_text(f"x = 1\n  ### {END}\n")
    with pytest.raises(ReleaseError, match=r"models/a.py:2"):
        verify_handout(out)
    (out / "models" / "a.py").write_text("x = 1\n")
    (out / "rubric.yaml").write_text("a: 1\n")
    with pytest.raises(ReleaseError, match="rubric.yaml: staff-only"):
        verify_handout(out)


def test_staff_only_names():
    assert staff_only_reason("autograder/staff/rubric.yaml") == "staff"
    assert staff_only_reason("data/solution.csv") == "solution.csv"
    assert staff_only_reason("models/vit.py") is None


def test_real_release_has_no_marker_no_staff_file():
    out = shared_handout()
    rels = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert rels, "empty handout"
    for rel in rels:
        assert staff_only_reason(rel) is None, rel
        assert not rel.startswith(("autograder/staff/", ".git/", ".venv/")), rel
        if rel.startswith("tests/"):  # the public suite only, never the staff tests
            assert (REPO / "handouts" / rel).is_file(), rel
        try:
            text = (out / rel).read_text()
        except UnicodeDecodeError:
            continue
        assert find_markers(text, markdown=rel.endswith(".md")) == [], rel
    staff = [r for r in shipped_files(REPO) if r != "WORKSHEET.md"]
    assert set(editable_files(REPO)) - {"WORKSHEET.md"} <= set(staff)
    for rel in ("models/vit.py", "models/alexnet.py", "models/resnet.py"):
        if (REPO / rel).is_file():
            assert rel in editable_files(REPO)
            assert "raise NotImplementedError()" in (out / rel).read_text()
    if (REPO / "models/lenet.py").is_file():
        assert (out / "models/lenet.py").read_bytes() == (REPO / "models/lenet.py").read_bytes()


def test_handout_imports_and_check_reports_stubs_failing():
    out = shared_handout()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import models.build, models.lenet, models.vit, models.alexnet, models.resnet, config; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "autograder", "check"], cwd=out, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1, (r.stdout[-3000:], r.stderr[-3000:])
    assert "FAIL" in r.stdout and "public checks pass" in r.stdout, r.stdout[-3000:]


def test_cached_handout_is_reused_until_a_staff_file_changes(tmp_path):
    repo = _fake_repo(tmp_path, {})
    first = cached_handout(repo, cache=tmp_path / "cache")
    assert cached_handout(repo, cache=tmp_path / "cache") == first
    (repo / "main.py").write_text("print('changed')\n")
    second = cached_handout(repo, cache=tmp_path / "cache")
    assert second != first and (second / "main.py").read_text() == "print('changed')\n"


def test_cli_release_exit_codes(tmp_path, capsys):
    from autograder.cli import main

    repo = _fake_repo(tmp_path, {})
    assert main(["release", "--out", str(tmp_path / "ok"), "--repo", str(repo)]) == 0
    assert "students edit: models/net.py" in capsys.readouterr().out
    (repo / "models" / "net.py").write_text(f"### {BEGIN}\n")
    assert main(["release", "--out", str(tmp_path / "bad"), "--repo", str(repo)]) == 1
    assert "models/net.py:1" in capsys.readouterr().err


def _solution_lines(text: str) -> list[str]:
    """The distinctive code lines inside a file's solution regions (comments, blanks and short lines left out)."""
    lines, inside = [], False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if BEGIN in raw:
            inside = True
        elif END in raw:
            inside = False
        elif inside and len(line) >= 30 and not line.endswith("("):  # not a bare `x = nn.Sequential(`
            lines.append(line)
    return lines


# Shipped files allowed to repeat solution lines, with the reason.
ALLOWED = {
    # The shortcut condition is stated in BasicBlock's docstring; the reference uses it too.
    ("autograder/grading/reference.py", "models/resnet.py"): "the shortcut condition",
}


def test_no_solution_code_ships_anywhere_in_the_handout():
    """A solution line copied into another shipped file (a helper, a reference, a notebook) is a leak."""
    out = shared_handout()
    solutions = {rel: _solution_lines((REPO / rel).read_text()) for rel in editable_files(REPO)
                 if rel.endswith(".py")}
    assert solutions.get("models/vit.py"), "expected solution regions in models/vit.py"
    texts = {}
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md"):
            texts[path.relative_to(out).as_posix()] = "\n".join(
                line.split("#", 1)[0].strip() for line in path.read_text(errors="replace").splitlines())
    leaks = [(rel, line, where) for rel, lines in solutions.items() for line in lines
             for where, text in texts.items() if line in text and (where, rel) not in ALLOWED]
    assert leaks == [], "solution lines found in the handout:\n" + "\n".join(f"{w}: {l!r} (from {r})" for r, l, w in leaks)


def test_handout_ships_what_the_student_documents_use():
    out = shared_handout()
    for rel in ("research/claims.py", "research/__main__.py", "scripts/lr_grid.py", "tests/conftest.py",
                "tests/test_public_student_code.py", "Makefile", "pytest.ini", "README.md"):
        assert (out / rel).is_file(), f"{rel} is missing from the handout"
    for rel in ("handouts/README.md", "handouts/Makefile", "handouts/tests", "bench", "scripts/__init__.py"):
        assert not (out / rel).exists(), f"{rel} should not ship"
    assert (out / "README.md").read_bytes() == (REPO / "handouts" / "README.md").read_bytes()
    assert (out / "Makefile").read_bytes() == (REPO / "handouts" / "Makefile").read_bytes()
    targets = {line.split(":")[0] for line in (out / "Makefile").read_text().splitlines()
               if line and not line[0].isspace() and ":" in line and not line.startswith((".", "#"))}
    assert {"demo", "test", "check"} <= targets and "bench" not in targets and "release" not in targets, targets


# Staff matters that must not reach the student README (TA guide, grading internals, set-up).
STAFF_ONLY_TOPICS = ("TA guide", "Gradescope", "grade-all", "staff catalogue", "rubric", "kaggle solution",
                     "kaggle leaderboard", "kaggle score", "worksheet-export", "worksheet-merge", "make bench",
                     "make release", "autograder/staff", "DESIGN.md", "sandbox: what protects", "nbgrader export")


def test_student_readme_is_for_students():
    text = (shared_handout() / "README.md").read_text()
    for needed in ("make demo", "make test", "autograder check", "kaggle validate", "Hand in", "research claims"):
        assert needed in text, needed
    for topic in STAFF_ONLY_TOPICS:
        assert topic.lower() not in text.lower(), f"the student README mentions {topic!r}"
    staff = (REPO / "README.md").read_text()
    assert "TA guide" in staff and "Gradescope" in staff, "the staff README keeps the TA guide"


def test_autograder_help_in_the_handout_offers_only_what_works_there():
    out = shared_handout()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import contextlib, io, sys\n"
            "from autograder.cli import main\n"
            "for argv in (['--help'], ['check', '--help'], ['kaggle', '--help'], ['kaggle', 'export', '--help'],"
            " ['kaggle', 'validate', '--help']):\n"
            "    buf = io.StringIO()\n"
            "    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
            "        main(argv)\n"
            "    print('=====', ' '.join(argv)); print(buf.getvalue())\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    top = r.stdout.split("===== check --help")[0]
    listed = set(re.findall(r"^    (\S+)", top, re.MULTILINE))
    assert listed == {"check", "kaggle"}, listed
    kaggle = r.stdout.split("===== kaggle --help")[1].split("=====")[0]
    assert set(re.findall(r"^    (\S+)", kaggle, re.MULTILINE)) == {"export", "validate"}, kaggle
    for cited in ("DESIGN.md", "staff/", "rubric", "solution.csv"):
        assert cited not in r.stdout, f"--help in the handout cites {cited!r}"
    r = subprocess.run([sys.executable, "-m", "autograder", "worksheet", "WORKSHEET.md"], cwd=out, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "invalid choice: 'worksheet'" in r.stderr, (r.stdout, r.stderr)


def test_autograder_help_in_the_staff_repository_lists_every_command():
    from autograder.cli import build_parser

    listed = set(build_parser(student=False)._subparsers._group_actions[0].choices)
    assert {"release", "check", "grade", "grade-all", "kaggle", "gradescope"} <= listed, listed
