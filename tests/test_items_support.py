"""Shared helpers for the grading tests (no tests here): submissions and an in-process stand-in
for the sandbox, so that dozens of submissions grade quickly.

The stand-in runs ``autograder.tasks`` in this process with the submission first on ``sys.path``
and copies payloads and results both ways, as a real child would. The sandbox's own tests prove
the isolation; these tests are about what is checked and how it is scored.
"""
from __future__ import annotations

import copy
import inspect
import os
import re
import shutil
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STUDENT_FILES = ("models/vit.py", "models/alexnet.py", "models/resnet.py")


@dataclass
class StandInResult:
    ok: bool
    value: dict | None = None
    error: str = ""
    limit: str | None = None
    stdout: str = ""


class InProcessSandbox:
    """``Sandbox.run`` without a child process (tests only)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.calls = 0

    def __enter__(self) -> "InProcessSandbox":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, task: str, payload: dict) -> StandInResult:
        from autograder.tasks import TASKS

        self.calls += 1
        saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "models" or k.startswith("models.")}
        cwd, path = os.getcwd(), list(sys.path)
        os.chdir(self.workdir)
        sys.path.insert(0, str(self.workdir))
        try:
            value = TASKS[task](copy.deepcopy(payload))
            return StandInResult(True, copy.deepcopy(value))
        except Exception:  # noqa: BLE001
            return StandInResult(False, error=traceback.format_exc(limit=-3))
        finally:
            from autograder import tasks

            for owner, attr, original in tasks._INSTALLED.values():  # a child's traps die with it
                setattr(owner, attr, original)
            tasks._INSTALLED.clear()
            for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
                del sys.modules[k]
            sys.modules.update(saved)
            os.chdir(cwd)
            sys.path[:] = path


def make_submission(root: Path, files: dict[str, str] | None = None) -> Path:
    """A submission folder: the staff's models/ and engine/, with ``files`` (path -> text) replacing theirs."""
    root = Path(root)
    for folder in ("models", "engine"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in (files or {}).items():
        (root / rel).write_text(text)
    return root


_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n", re.M | re.S)


def handout_text(text: str) -> str:
    """The handout version of a staff file: each solution region becomes nbgrader's stub.

    A regex rather than ``autograder.markers.strip_text`` (nbgrader's preprocessors): the same
    result for these files without importing nbgrader; the release's own tests cover nbgrader.
    """
    return _REGION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", text)


_PRELUDE = ("\n\n# ---- mutant grafted by the tests ----\n"
            "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n")


def graft_mistake(text: str, cls: str, mistake) -> str:
    """``text`` (a staff file) with ``mistake`` grafted onto class ``cls``."""
    from autograder.staff import mistakes as catalogue

    helpers = [inspect.getsource(getattr(catalogue, n)) for n in ("_heads", "_merge", "_replace_first")]
    src = _PRELUDE + "\n".join(textwrap.dedent(h) for h in helpers)
    if mistake.forward is not None:
        src += "\n" + textwrap.dedent(inspect.getsource(mistake.forward))
        src += f"\n{cls}.forward = {mistake.forward.__name__}\n"
    if mistake.transform is not None:
        src += "\n" + textwrap.dedent(inspect.getsource(mistake.transform))
        src += (f"\n_orig_init = {cls}.__init__\n\n\ndef _mutant_init(self, *args, **kwargs):\n"
                f"    _orig_init(self, *args, **kwargs)\n    {mistake.transform.__name__}(self)\n\n\n"
                f"{cls}.__init__ = _mutant_init\n")
    return text + src


ALT_DIR = Path(__file__).resolve().parent / "alt_solutions"


def graft_alternative(base_text: str, alt_name: str) -> str:
    """``base_text`` (a handout file) with the methods of ``tests/alt_solutions/<alt_name>.py`` set on its classes."""
    alt = (ALT_DIR / f"{alt_name}.py").read_text()
    return (base_text + "\n\n# ---- alternative solution grafted by the tests ----\n" + alt
            + "\nfor _cls, _methods in METHODS.items():\n    for _name, _fn in _methods.items():\n"
              "        setattr(globals()[_cls], _name, _fn)\n")


def staff_text(rel: str) -> str:
    return (REPO / rel).read_text()


def by_name(results) -> dict:
    return {r.name: r for r in results}
