"""``python -m autograder kaggle export | validate | score | solution | leaderboard``."""
from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import Callable

from autograder.kaggle.export import AVERAGES, export_submission
from autograder.kaggle.leaderboard import build_leaderboard, write_leaderboard
from autograder.kaggle.score import score_submission
from autograder.kaggle.solution import load_labels, write_competition_files
from autograder.kaggle.validate import KaggleError, check_submission


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Exit 2 with one line, never a traceback, on bad input or an unexpected failure."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except KaggleError as e:
            print(f"error: {e}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - one readable line for a student-facing command
            print(f"error: kaggle {args.kaggle_command} failed unexpectedly ({type(e).__name__}: {e}); "
                  "please report this to the course staff", file=sys.stderr)
        return 2

    return run


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    summary = export_submission(args.sources, args.out, args.num_classes, args.average)
    print(f"wrote {summary['out']}: {summary['rows']:,} rows from {len(args.sources)} source(s)")
    return 0


@_guarded
def cmd_validate(args: argparse.Namespace) -> int:
    result = check_submission(args.file, args.expected_rows, args.num_classes)
    for problem in result.problems:
        print(problem)
    if result.valid:
        unchecked = [what for what, given in (("the class count (for the competition: --num-classes 200)", args.num_classes),
                                              ("the row count (--expected-rows N)", args.expected_rows)) if given is None]
        note = f"; not checked: {' and '.join(unchecked)}" if unchecked else ""
        print(f"{args.file}: valid ({len(result.predictions):,} rows){note}")
    return 0 if result.valid else 1


@_guarded
def cmd_score(args: argparse.Namespace) -> int:
    result = score_submission(args.file, args.solution, args.num_classes)
    if not result["valid"]:
        print("\n".join(result["problems"]))
        return 1
    print(json.dumps(result))
    return 0


@_guarded
def cmd_solution(args: argparse.Namespace) -> int:
    labels = load_labels(args.labels, args.dataset)
    summary = write_competition_files(labels, args.out, args.public_fraction, args.seed, args.sample_class)
    print(json.dumps(summary))
    return 0


@_guarded
def cmd_leaderboard(args: argparse.Namespace) -> int:
    board = build_leaderboard(args.folder, args.solution, args.final, args.num_classes)
    csv_path, md_path = write_leaderboard(board, args.out)
    print(md_path.read_text(), end="")
    print(f"wrote {csv_path} and {md_path}")
    return 0


def register(subparsers) -> None:
    """Add ``kaggle`` and its sub-commands to the autograder's command line."""
    parser = subparsers.add_parser("kaggle", help="the class Kaggle competition: export, validate, score, "
                                   "solution, leaderboard", description=__doc__)
    commands = parser.add_subparsers(dest="kaggle_command", required=True, metavar="SUBCOMMAND")

    p = commands.add_parser("export", help="submission.csv from a run's saved logits or predictions")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="run folder (with test_logits.npy) or .npy/.npz/.pt file; several logits = ensemble")
    p.add_argument("--out", required=True, help="the submission.csv to write")
    p.add_argument("--num-classes", type=_positive_int, help="check the class count (needed for predictions files)")
    p.add_argument("--average", choices=AVERAGES, default="probs", help="how an ensemble is averaged")
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("validate", help="exit 0 if Kaggle would accept FILE, else 1 and one line per problem")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--expected-rows", type=_positive_int, help="number of test images (omit: any)")
    p.add_argument("--num-classes", type=_positive_int, help="number of classes (omit: any class >= 0)")
    p.set_defaults(func=cmd_validate)

    p = commands.add_parser("score", help="public and private accuracy of FILE, as JSON")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--solution", required=True, help="the staff solution.csv (Id,Category,Usage)")
    p.add_argument("--num-classes", type=_positive_int, help="number of classes (omit: any class >= 0)")
    p.set_defaults(func=cmd_score)

    p = commands.add_parser("solution", help="solution.csv and sample_submission.csv from the staff's test labels")
    p.add_argument("--labels", required=True, help="HDF5 file (with --dataset), CSV with Id,Category, or .npy")
    p.add_argument("--dataset", default="labels-test", help="HDF5 dataset holding the test labels")
    p.add_argument("--out", required=True, help="folder to write the two files into")
    p.add_argument("--public-fraction", type=float, default=0.3, help="share of rows on the public leaderboard")
    p.add_argument("--seed", type=int, default=0, help="seed of the public/private split")
    p.add_argument("--sample-class", type=int, default=0, help="the class sample_submission.csv predicts")
    p.set_defaults(func=cmd_solution)

    p = commands.add_parser("leaderboard", help="rank a folder of submissions (public; --final: private)")
    p.add_argument("folder", metavar="FOLDER", help="NAME.csv files, NAME/submission.csv folders or NAME.zip")
    p.add_argument("--solution", required=True, help="the staff solution.csv")
    p.add_argument("--final", action="store_true", help="rank on the private split (end of the competition)")
    p.add_argument("--out", required=True, help="folder for leaderboard.csv and leaderboard.md")
    p.add_argument("--num-classes", type=_positive_int, help="number of classes (omit: any class >= 0)")
    p.set_defaults(func=cmd_leaderboard)
