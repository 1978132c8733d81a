"""Shared fixtures and helpers of the worksheet tests: the staff and blank worksheets, the key, submissions."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder import worksheet as ws
from autograder.results import TestResult as Result  # not collected by pytest

STAFF = ws.STAFF_WORKSHEET


@pytest.fixture(scope="module")
def staff_text() -> str:
    return STAFF.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def key():
    questions, _ = ws.load_key()
    return questions


@pytest.fixture(scope="module")
def blank_text() -> str:
    """The released worksheet, made by the release's own stripping (nbgrader's ClearSolutions)."""
    from autograder.markers import strip_text

    return strip_text(STAFF.read_text(encoding="utf-8"), "markdown", "WORKSHEET.md")


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
