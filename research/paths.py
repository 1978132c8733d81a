"""Where the research commands find files, whatever the current directory.

The training runs they start execute ``main.py`` with the repository root as their working
directory, so relative paths inside a config (``DATA.ROOT``, ``OUTPUT``) and in ``--opts`` mean
the same as when you run ``python main.py`` from the root. A config or script named on the command
line is looked up relative to the current directory first and then relative to the repository
root, so ``--cfg configs/finetune/vit_b16_cifar10.yaml`` works from anywhere.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "main.py"


def find_file(path: str, what: str, flag: str, example: str = "configs/finetune/vit_b16_cifar10.yaml") -> str:
    """The absolute path of a file named on the command line.

    Args:
        path: as the user typed it (absolute, or relative to the current directory or to the
            repository root).
        what: what the file is, for the message (``config``, ``training script``).
        flag: the option that named it (``--cfg``), for the message.
        example: a valid value, for the message.

    Raises:
        FileNotFoundError: neither place holds the file; the message names both paths looked at.
    """
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, REPO / given]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve())
    looked = " or ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(
        f"{flag} {path!r}: no {what} at {looked}. Give a path relative to the current directory or to "
        f"the repository root ({REPO}), e.g. {flag} {example}.")


def in_repo(path: str) -> str:
    """``path`` as main.py sees it when run from the repository root: relative paths join ``REPO``."""
    return path if os.path.isabs(path) else str(REPO / path)


def shell_line(argv: list[str], env: dict[str, str] | None = None) -> str:
    """A command line that reproduces a run from any directory: ``cd REPO && [VAR=value ...] argv``."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return f"cd {shlex.quote(str(REPO))} && " + (prefix + " " if prefix else "") + shlex.join(argv)
