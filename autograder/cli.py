"""The autograder's command line: one sub-command per staff or student task (DESIGN.md §6).

Each command lives in its own module, which exposes ``register(subparsers)``; that function adds
its parser(s) and sets ``func`` (``args -> exit code``) as the parser default.
"""
from __future__ import annotations

import argparse
import importlib

# Modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "autograder.release",     # release
    "autograder.check",       # check
    "autograder.grade",       # grade, grade-all
    "autograder.worksheet",   # worksheet
    "autograder.kaggle",      # kaggle validate | score | solution | export | leaderboard
    "autograder.gradescope",  # gradescope
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # a command not present in this copy (e.g. staff-only in a handout)
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
