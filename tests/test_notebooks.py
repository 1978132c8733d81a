"""The handout notebooks run top to bottom on CPU (tiny settings) and release without solutions.

Each notebook runs in a kernel started from this test's own Python (the project venv): a
kernelspec written to a temporary folder points at ``sys.executable``, and the notebook's first
cell prints the interpreter it runs on, which the test checks.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("data_visualization", "attention_maps", "vit_claims")


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / "vz-venv"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "vision-zoo venv", "language": "python",
    }))
    return [str(folder)]


def _execute(name: str, kernel_dirs: list[str]) -> nbformat.NotebookNode:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "handouts" / f"{name}.ipynb", as_version=4)
    km = KernelManager(kernel_name="vz-venv", kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(REPO / "handouts")}}).execute()
    return nb


def _skip_in_handout(name: str) -> None:
    """In the student handout the solution cells are stubs: nothing here to run or strip."""
    from autograder.markers import find_markers

    if not find_markers((REPO / "handouts" / f"{name}.ipynb").read_text()):
        pytest.skip(f"{name}.ipynb holds no solution (a released handout)")


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, kernel_dirs, tmp_path, monkeypatch):
    _skip_in_handout(name)
    monkeypatch.setenv("VZ_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("VZ_CLAIMS_OUT", str(tmp_path / "claims"))
    if name == "vit_claims":
        from tests.test_research import make_run

        runs = tmp_path / "runs"
        make_run(str(runs), "vitl", "vit_large_patch16_224", "augreg_in21k", "cifar10", [0.98, 0.99])
        make_run(str(runs), "bit", "resnetv2_152x4_bit", "goog_in21k", "cifar10", [0.97, 0.98])
        monkeypatch.setenv("VZ_RUNS_DIR", str(runs))
    nb = _execute(name, kernel_dirs)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert f"python: {sys.executable} " in _text(setup), f"the kernel ran {_text(setup)!r}, not this venv's python"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    if name == "vit_claims":
        shown = "".join(_text(c) for c in nb.cells)
        assert "2 runs, 2 finished" in shown
        assert "vitl: the paper's grid on cifar10 would take" in shown
        assert os.path.isfile(tmp_path / "claims" / "claim1_vit_vs_cnn.md")


@pytest.mark.slow  # the run above covers the notebook; this one only swaps in an empty runs folder
def test_vit_claims_runs_without_any_run(kernel_dirs, tmp_path, monkeypatch):
    _skip_in_handout("vit_claims")
    monkeypatch.setenv("VZ_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("VZ_RUNS_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("VZ_CLAIMS_OUT", str(tmp_path / "claims"))
    nb = _execute("vit_claims", kernel_dirs)
    assert "every cell of ours shows as missing" in "".join(_text(c) for c in nb.cells)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nbgrader_metadata_is_consistent(name):
    """nbgrader's own ClearSolutions with enforce_metadata (its default) accepts every cell."""
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.read(REPO / "handouts" / f"{name}.ipynb", as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)) == len(nb.cells), "every cell has nbgrader metadata with a unique grade_id"
    graded = [c for c in nb.cells if c.metadata["nbgrader"].get("grade")]
    assert graded and all(c.metadata["nbgrader"]["points"] > 0 for c in graded)
    ClearSolutions().preprocess(nb, {})


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_released_notebook_has_no_solution(name, tmp_path):
    from autograder.markers import find_markers, strip_file

    _skip_in_handout(name)
    src = REPO / "handouts" / f"{name}.ipynb"
    dst = tmp_path / f"{name}.ipynb"
    assert strip_file(src, dst)
    text = dst.read_text()
    assert not find_markers(text)
    released = nbformat.read(dst, as_version=4)
    staff = nbformat.read(src, as_version=4)
    assert len(released.cells) == len(staff.cells)
    for before, after in zip(staff.cells, released.cells):
        meta = before.metadata["nbgrader"]
        if meta["solution"]:
            stub = "raise NotImplementedError()" if before.cell_type == "code" else "YOUR ANSWER HERE"
            assert stub in after.source, f"solution cell {meta['grade_id']} was not replaced by a stub"
            body = [ln for ln in before.source.splitlines() if ln.strip() and "SOLUTION" not in ln][-1].strip()
            assert body not in after.source, f"solution line {body!r} of {meta['grade_id']} left in the release"
        else:
            assert after.source == before.source, f"non-solution cell {meta['grade_id']} changed"
