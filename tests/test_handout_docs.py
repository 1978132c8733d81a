"""Every command the handout's README, write-ups and notebooks quote runs in the handout.

The handout is released once per module and filled with the staff solutions in a scratch copy (the
student regions are what students write, so their commands need them). A command a document marks
``# later: <what it needs>`` (a dataset, a GPU, weights) is only checked for saying what it needs.

Default suite: each document's commands run in order, training cut short (``TRAIN.STEPS 2``, no warmup), and
the two heavy commands (``make test`` and ``autograder check``, which run the sandboxed public checks)
are covered by lighter tests: the public suite on the untouched handout (below) and
``tests/test_release.py``'s check of the untouched handout; the notebooks' imports resolve in the
handout (below) and ``tests/test_notebooks.py`` runs them. The slow test runs every command exactly
as quoted and executes the three notebooks through nbclient in the filled handout.
"""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from tests.handout_fixtures import (
    DOCS, NOTEBOOKS, DocCommand, build, doc_commands, fake_venv, fill_with_staff_solutions, handout_env,
)

# Commands the default suite leaves to a lighter test (named), and the slow test runs as quoted.
HEAVY = {
    "make test": "test_public_suite_fails_only_on_what_students_write",
    ".venv/bin/python -m autograder check": "tests/test_release.py::test_handout_imports_and_check_reports_stubs_failing",
}
STUDENT_CLASSES = ("AlexNet", "BasicBlock", "PatchEmbed", "AddPositionEmbs", "MlpBlock", "MultiHeadSelfAttention",
                   "Encoder1DBlock", "Encoder", "VisionTransformer")


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> dict[str, Path]:
    """One release per module: ``untouched`` as students get it, ``filled`` with the staff solutions."""
    root = tmp_path_factory.mktemp("handout")
    untouched = build(root)
    filled = root / "filled"
    shutil.copytree(untouched, filled)
    fill_with_staff_solutions(filled)
    for folder in (untouched, filled):
        fake_venv(folder)
    return {"untouched": untouched, "filled": filled}


def quick(command: str, handout: Path) -> str:
    """The command cut short for the default suite: ``make demo`` becomes its recipe, and every
    ``main.py`` run stops after 2 optimizer steps (``--throughput`` at batch 32)."""
    if command.startswith("make "):
        recipe = subprocess.run(["make", "-n", *command.split()[1:]], cwd=handout, capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()
        runs = [line for line in recipe if "main.py" in line]
        if runs:
            command = runs[-1]
    if "main.py" in command:
        command += (" " if " --opts " in command else " --opts ") + "TRAIN.STEPS 2 TRAIN.WARMUP_EPOCHS 0 EVAL.THROUGHPUT_MAX_BATCH 32"
    return command


def run(command: str, handout: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=handout, env=handout_env(), capture_output=True, text=True,
                          timeout=timeout)


def _by_source(commands: list[DocCommand]) -> dict[str, list[DocCommand]]:
    out: dict[str, list[DocCommand]] = {}
    for c in commands:
        out.setdefault(c.source, []).append(c)
    return out


def test_every_quoted_command_runs_here_or_says_what_it_needs(handouts):
    commands = doc_commands(handouts["untouched"])
    by_source = _by_source(commands)
    assert set(DOCS) <= set(by_source), f"documents without any command: {set(DOCS) - set(by_source)}"
    for c in commands:
        if c.later is not None:
            assert len(c.later.split()) >= 2, f"{c.source}: {c.command!r} is marked for later without saying what it needs"
        assert "<" not in c.command and " CFG" not in c.command, f"{c.source}: {c.command!r} has a placeholder; " \
            "give a command that runs, or mark it '# later: <what it needs>'"
    runnable = [c.command for c in commands if c.later is None]
    for needed in ("make demo", "make test", ".venv/bin/python -m research claims output --out output/claims",
                   ".venv/bin/python scripts/lr_grid.py --cfg configs/finetune/vit_b16_cifar10.yaml --dry-run"):
        assert needed in runnable, f"the docs no longer quote {needed!r}"


@pytest.mark.parametrize("source", DOCS)
def test_doc_commands_run_cut_short(source, handouts):
    """Each document's runnable commands, in order, in the filled handout (training cut short)."""
    handout = handouts["filled"]
    for c in _by_source(doc_commands(handout)).get(source, []):
        if c.later is not None or c.command in HEAVY:
            continue
        command = quick(c.command, handout)
        r = run(command, handout)
        assert r.returncode == 0, f"{source}: {command!r} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def test_public_suite_fails_only_on_what_students_write(handouts, tmp_path):
    """`make test`'s suite on the untouched handout: one failure per student class, saying
    "not implemented yet"; everything else passes."""
    handout = handouts["untouched"]
    report = tmp_path / "junit.xml"
    recipe = subprocess.run(["make", "-n", "test"], cwd=handout, capture_output=True, text=True, check=True).stdout
    assert "-m pytest" in recipe, recipe
    r = run(f".venv/bin/python -m pytest -p no:xdist --junitxml={report}", handout)
    assert r.returncode == 1, (r.stdout[-3000:], r.stderr[-3000:])
    failed, passed = {}, []
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        name = case.get("name")
        if problem is None:
            passed.append(name)
        else:
            failed[name] = problem.get("message", "")
    assert sorted(failed) == sorted(f"test_student_class[{c}]" for c in STUDENT_CLASSES), failed
    for name, message in failed.items():
        assert "not implemented yet" in message, f"{name}: {message}"
    assert len(passed) >= 5, passed


def _imports(code: str) -> list[str]:
    """The import statements of a notebook cell, as source lines."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_imports_resolve_in_the_handout(notebook, handouts):
    """What stopped vit_claims.ipynb at its second cell (ModuleNotFoundError: research) is caught here."""
    handout = handouts["untouched"]
    nb = nbformat.read(handout / notebook, as_version=4)
    lines = [line for c in nb.cells if c.cell_type == "code" for line in _imports(c.source)]
    assert lines, f"{notebook} imports nothing?"
    r = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=handout, env=handout_env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"{notebook}: its imports fail in the handout:\n{r.stderr[-3000:]}"


def _execute_notebook(path: Path, kernel_dir: Path) -> list:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    spec = kernel_dir / "vz-handout"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "vision-zoo handout", "language": "python",
    }))
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="vz-handout", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


@pytest.mark.slow  # minutes: real training runs; the cut-short, public-suite and import tests above cover it
def test_every_doc_command_and_notebook_runs_as_quoted(handouts, tmp_path, monkeypatch):
    handout = handouts["filled"]
    for c in doc_commands(handout):
        if c.later is None:
            r = run(c.command, handout, timeout=1800)
            assert r.returncode == 0, f"{c.source}: {c.command!r} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    for key, value in handout_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VZ_QUICK", "1")  # the notebooks' own tiny settings
    monkeypatch.setenv("VZ_RUNS_DIR", str(handout / "output"))  # the runs the commands above made
    monkeypatch.setenv("VZ_CLAIMS_OUT", str(tmp_path / "claims"))
    for notebook in NOTEBOOKS:
        errors = _execute_notebook(handout / notebook, tmp_path / "kernels")
        assert not errors, f"{notebook}: {errors}"
