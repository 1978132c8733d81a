"""autograder.gradescope: the bundle, unpacked into a root laid out like Gradescope's, grades a submission."""
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from autograder.gradescope import build_bundle, bundle_files
from tests.test_release import REPO, shared_handout


def test_bundle_holds_scripts_and_staff_sources_but_no_tests(tmp_path):
    names = build_bundle(tmp_path / "ag.zip", REPO)
    with zipfile.ZipFile(tmp_path / "ag.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert set(names) == set(infos)
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & stat.S_IXUSR, script
    assert "autograder/grade.py" in infos and "autograder/__main__.py" in infos
    assert not [n for n in infos if n.startswith(("tests/", ".venv/", ".git/")) or "__pycache__" in n]
    if (REPO / "autograder/staff").is_dir():
        assert any(n.startswith("autograder/staff/") for n in infos)  # grading needs the staff files
    if (REPO / "models/vit.py").is_file():
        assert "models/vit.py" in infos
    assert bundle_files(REPO) == sorted(n for n in names if n not in ("setup.sh", "run_autograder"))
    with pytest.raises(ValueError, match="must end in .zip"):
        build_bundle(tmp_path / "ag.tar", REPO)


def test_setup_script_installs_python311_and_requirements():
    text = (REPO / "autograder/gradescope_template/setup.sh").read_text()
    assert "python3.11" in text and "-r \"$ROOT/source/requirements.txt\"" in text
    assert "AUTOGRADER_ROOT" in text and "release --out \"$ROOT/handout\"" in text


def test_run_autograder_in_a_gradescope_like_root(tmp_path):
    root = tmp_path / "autograder"
    build_bundle(tmp_path / "ag.zip", REPO)
    with zipfile.ZipFile(tmp_path / "ag.zip") as zf:
        zf.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):
        os.chmod(root / "source" / script, 0o755)  # Gradescope keeps the modes; extractall does not
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 999}')  # stale: must be replaced
    sub = root / "submission"
    sub.mkdir()
    (sub / "vit.py").write_bytes((REPO / "models/vit.py").read_bytes())  # a flat single-file upload
    # the handout setup.sh would build, made here from the test session's shared release
    handout = shared_handout()
    os.symlink(handout, root / "handout")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    r = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    tests = {t["name"]: t for t in data["tests"]}
    assert {"vit/PatchEmbed", "vit/MultiHeadSelfAttention", "kaggle/submission"} <= set(tests)
    assert tests["vit/MultiHeadSelfAttention"]["score"] == tests["vit/MultiHeadSelfAttention"]["max_score"] > 0
    assert tests["alexnet/AlexNet"]["score"] == 0  # not handed in
    assert "found vit.py and graded it as models/vit.py" in data["output"]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}


def test_run_autograder_writes_results_even_if_python_is_broken(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    script = REPO / "autograder/gradescope_template/run_autograder"
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": "/nonexistent/python"}
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "failed to start" in data["output"]


@pytest.mark.parametrize("solution, ok", [
    (None, True),                                   # validity only: nothing to carry
    ("autograder/staff/solution.csv", True),        # inside the bundle: travels with it
    ("comp/solution.csv", False),                   # in the repository but not in the bundle
    ("OUTSIDE", False),                             # an absolute path outside the repository
    ("autograder/staff/missing.csv", False),        # named but absent
])
def test_bundle_refuses_a_kaggle_solution_it_would_not_carry(tmp_path, solution, ok):
    """kaggle.yaml naming a solution.csv the bundle leaves behind would make every Kaggle item a
    grader-side error on Gradescope: the bundle is refused with the fix instead."""
    repo = tmp_path / "repo"
    (repo / "autograder/staff").mkdir(parents=True)
    (repo / "comp").mkdir()
    outside = tmp_path / "elsewhere" / "solution.csv"
    outside.parent.mkdir()
    for p in (repo / "autograder/staff/solution.csv", repo / "comp/solution.csv", outside):
        p.write_text("Id,Category,Usage\n0,1,Public\n")
    value = "null" if solution is None else str(outside) if solution == "OUTSIDE" else solution
    (repo / "autograder/staff/kaggle.yaml").write_text(f"solution: {value}\n")
    if ok:
        names = build_bundle(tmp_path / "ag.zip", repo)
        assert solution is None or solution in names
    else:
        with pytest.raises(ValueError, match="kaggle.yaml.*solution"):
            build_bundle(tmp_path / "ag.zip", repo)
        assert not (tmp_path / "ag.zip").exists()
