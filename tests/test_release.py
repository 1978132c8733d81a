"""autograder.release: the handout holds no marker and no staff file; a bad staff copy fails loudly."""
import atexit
import functools
import os
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
        "README.md": "# course\n",
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
        assert not rel.startswith(("tests/", "autograder/staff/", ".git/", ".venv/")), rel
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
    # DESIGN.md §4 allows a fused-attention switch outside the student regions; it must split qkv
    # the same way (the layout is stated in the docstring, and timm ships the same lines).
    ("models/vit_zoo.py", "models/vit.py"): "the fused attention switch",
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
