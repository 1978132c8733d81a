"""Helpers for tests that work on a released handout: build one, fill its student regions with the
staff solutions, give it a ``.venv`` that is this test run's Python, and list the commands its
documents quote.

Documents mark a command that cannot run yet with a trailing ``# later: <what it needs>``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from autograder.release import STAMP, release

REPO = Path(__file__).resolve().parents[1]
# The handout's documents, relative to its root (the notebooks' Markdown cells are read too).
DOCS = ("README.md", "handouts/model_zoo_homework.md", "handouts/vit_homework.md")
NOTEBOOKS = ("handouts/data_visualization.ipynb", "handouts/attention_maps.ipynb", "handouts/vit_claims.ipynb")
SHELL_FENCES = ("bash", "sh", "shell", "console", "")
# An inline code span that starts like this is a command too (it must run, like a fenced one).
COMMAND_RE = re.compile(r"^(make|python3?|\.venv/bin/python|torchrun|bash)\s")
LATER_RE = re.compile(r"\s#\s*later:\s*(?P<why>.*)$")
COMMENT_RE = re.compile(r"\s+#\s.*$")


@dataclass(frozen=True)
class DocCommand:
    """One command quoted in a handout document.

    Args:
        source: the document (relative to the handout root).
        command: the command line (continuation lines joined, trailing comment removed).
        later: what it needs before it can run, when the document marks it ``# later:``; else None.
    """

    source: str
    command: str
    later: str | None = None


def build(root: Path) -> Path:
    """Releases the staff repository into ``root / "handout"`` and returns that folder."""
    return release(Path(root) / "handout", REPO).out


def fill_with_staff_solutions(handout: Path) -> list[str]:
    """Copies the staff version of every file students edit into ``handout`` (their regions filled).

    Returns:
        The files copied (relative paths).
    """
    editable = json.loads((Path(handout) / STAMP).read_text())["editable"]
    for rel in editable:
        shutil.copyfile(REPO / rel, Path(handout) / rel)
    return editable


def fake_venv(handout: Path, python: str = sys.executable) -> Path:
    """Makes ``handout/.venv`` whose ``bin/python`` runs ``python`` and whose install stamp is fresh,
    so ``make demo`` / ``make test`` and ``.venv/bin/python ...`` run as quoted, without installing."""
    bin_dir = Path(handout) / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
    wrapper.chmod(0o755)
    stamp = Path(handout) / ".venv" / ".installed-stamp"
    stamp.touch()
    req = Path(handout) / "requirements.txt"
    os.utime(stamp, (req.stat().st_mtime + 10, req.stat().st_mtime + 10))
    return wrapper


def handout_env() -> dict[str, str]:
    """The environment commands run in: offline, W&B off, no display, the test's own PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VZ_QUICK")}
    env.update(WANDB_MODE="disabled", HF_HUB_OFFLINE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return env


def _shell_commands(block: str, source: str) -> list[DocCommand]:
    out = []
    for logical in re.sub(r"\\\n\s*", " ", block).splitlines():
        line = logical.strip()
        if not line or line.startswith("#"):
            continue
        later = LATER_RE.search(line)
        command = COMMENT_RE.sub("", line).strip()
        out.append(DocCommand(source, command, later.group("why").strip() if later else None))
    return out


def markdown_commands(text: str, source: str) -> list[DocCommand]:
    """Commands in a Markdown text: every line of a shell code block, and inline code spans that
    start like a command (``make ...``, ``python ...``, ``.venv/bin/python ...``).

    Args:
        text: the Markdown.
        source: its name, kept with each command.
    """
    out = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type in ("fence", "code_block") and token.info.strip().lower() in SHELL_FENCES:
            out += _shell_commands(token.content, source)
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "code_inline" and COMMAND_RE.match(child.content):
                    out.append(DocCommand(source, child.content.strip()))
    return out


def doc_commands(handout: Path) -> list[DocCommand]:
    """Every command the handout's README, write-ups and notebooks (Markdown cells) quote, in order."""
    import nbformat

    out = []
    for rel in DOCS:
        out += markdown_commands((Path(handout) / rel).read_text(encoding="utf-8"), rel)
    for rel in NOTEBOOKS:
        nb = nbformat.read(Path(handout) / rel, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                out += markdown_commands(cell.source, rel)
    return out
