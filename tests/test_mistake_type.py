"""The ``Mistake`` type lives in a module of its own: the diagnosis and the staff catalogue each
import it, and neither imports the other at module level (no import circle)."""
from __future__ import annotations

import ast
from pathlib import Path

from autograder.grading import diagnosis, mistake
from autograder.staff import mistakes

REPO = Path(__file__).resolve().parents[1]


def _imported_modules(rel: str) -> set[str]:
    tree = ast.parse((REPO / rel).read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_mistake_type_is_shared_not_circular():
    assert diagnosis.Mistake is mistake.Mistake
    assert all(isinstance(m, mistake.Mistake) for m in mistakes.MISTAKES)
    assert "autograder.grading.diagnosis" not in _imported_modules("autograder/staff/mistakes.py")
    assert "autograder.staff.mistakes" not in _imported_modules("autograder/grading/diagnosis.py")
    assert _imported_modules("autograder/grading/mistake.py") <= {"__future__", "dataclasses", "typing"}
