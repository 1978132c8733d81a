"""The autograder's command line: one sub-command per task, for students and course staff.

Each command lives in its own module, which exposes ``register(subparsers)``; that function adds
its parser(s) and sets ``func`` (``args -> exit code``) as the parser default. Inside a student
handout (a folder holding ``.handout.json``) only the commands that work there are offered:
``STUDENT_COMMANDS``.
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the staff repository, or a handout
HANDOUT_STAMP = ".handout.json"  # written by `release` at a handout's root

# Modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "autograder.release",     # release
    "autograder.check",       # check
    "autograder.grade",       # grade, grade-all
    "autograder.worksheet",   # worksheet, worksheet-export, worksheet-merge
    "autograder.kaggle",      # kaggle validate | score | solution | export | leaderboard
    "autograder.gradescope",  # gradescope
)
# What a student can run in the handout: command -> its sub-commands (None: all of them).
# The others need files that stay with the staff (answer keys, rubrics, hidden labels).
STUDENT_COMMANDS: dict[str, tuple[str, ...] | None] = {
    "check": None,
    "kaggle": ("export", "validate"),
}
STUDENT_EPILOG = (
    "This is the student handout: grading a whole submission, the worksheet key and the Kaggle "
    "scores stay with the course staff. `check` runs the same public checks as the grader."
)


def in_handout(root: Path = ROOT) -> bool:
    """Whether ``root`` is a student handout (``release`` wrote its stamp there).

    Args:
        root: the folder holding the ``autograder`` package.
    """
    return (Path(root) / HANDOUT_STAMP).is_file()


def _keep_only(action: argparse._SubParsersAction, names: set[str]) -> None:
    """Drops every sub-command of ``action`` not in ``names`` (from parsing and from --help)."""
    for name in list(action.choices):
        if name not in names:
            del action.choices[name]
    action._choices_actions = [a for a in action._choices_actions if a.dest in names]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def build_parser(student: bool | None = None) -> argparse.ArgumentParser:
    """The ``python -m autograder`` parser.

    Args:
        student: offer only ``STUDENT_COMMANDS``; default: when running from a handout.
    """
    student = in_handout() if student is None else student
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0],
                                     epilog=STUDENT_EPILOG if student else None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # a command not present in this copy (e.g. staff-only in a handout)
        module.register(subparsers)
    if student:
        _keep_only(subparsers, set(STUDENT_COMMANDS))
        for command, subcommands in STUDENT_COMMANDS.items():
            if subcommands is not None and command in subparsers.choices:
                _keep_only(_subparsers(subparsers.choices[command]), set(subcommands))
                subparsers.choices[command].description = (
                    f"python -m autograder {command} {' | '.join(subcommands)}")
                for entry in subparsers._choices_actions:
                    if entry.dest == command:
                        entry.help = f"{entry.help.split(':')[0]}: {', '.join(subcommands)}"
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
