"""The class Kaggle competition: export, validate, score, set up, rank, and grade ``submission.csv``.

The file format is a contract (DESIGN.md §5): header ``Id,Category``; Ids 0..N-1 (any row order);
Category an integer class index in [0, num_classes).
"""
from autograder.kaggle.cli import register
from autograder.kaggle.export import ensemble_predictions, export_submission, load_scores
from autograder.kaggle.item import ITEM, PRIVATE_ITEM, grade_submission_item, grade_submission_items, load_staff_config
from autograder.kaggle.leaderboard import build_leaderboard, find_entries, write_leaderboard
from autograder.kaggle.score import Solution, accuracies, load_solution, score_submission
from autograder.kaggle.solution import load_labels, split_public_private, write_competition_files
from autograder.kaggle.validate import (CheckResult, KaggleError, Problem, check_submission,
                                        validate_submission)

__all__ = [
    "ITEM", "CheckResult", "KaggleError", "Problem", "Solution", "accuracies", "build_leaderboard",
    "check_submission", "ensemble_predictions", "export_submission", "find_entries",
    "PRIVATE_ITEM", "grade_submission_item", "grade_submission_items", "load_labels", "load_scores", "load_solution", "load_staff_config",
    "register", "score_submission", "split_public_private", "validate_submission",
    "write_competition_files", "write_leaderboard",
]
