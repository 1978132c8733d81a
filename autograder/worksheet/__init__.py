"""Grade ``WORKSHEET.md``: find each answer by its id, read it by its kind, score it against the key.

The worksheet marks every answer with invisible HTML comments that survive the release::

    <!-- answer q3.4 -->
    (the staff copy: the reference answer inside nbgrader's markdown solution region;
     the handout: nbgrader's text stub, YOUR ANSWER HERE)
    <!-- end answer q3.4 -->

The key is the staff ``WORKSHEET.md`` (reference answers) plus the staff-only rubric
``autograder/staff/worksheet.yaml`` (kind, points and how to compare, per question id). Kinds:

- ``number``: one number, compared with a relative/absolute tolerance (or a plausible ``range``);
  "12.3M", "12,345,678", "1.23e7", "~12.35 million", "345 MB" (``unit: bytes``) all read.
- ``choice``: one option letter.
- ``short``: regular-expression ``patterns``, each worth part of the points.
- ``free``: graded by TAs. Here only a completeness check (not the stub, enough words) gives
  provisional points; ``export_free_text`` writes a CSV the TAs fill in and ``merge_ta_scores``
  puts their scores back into the gradebook / results files.
- ``image``: the answer links an image file (``![..](path)``) that exists in the submission.

Grading gives one ``worksheet/<id>`` entry per question (visible: right / partly / wrong /
unanswered / unreadable, never the expected answer) and one ``worksheet/answer-key/part-N`` entry per part
(0 points, ``after_published``) with the expected answers and the details of every item.

The pipeline, one small step each, one module per job:

- ``markers``: ``parse_worksheet`` finds each answer by its markers; ``reference_answers``.
- ``numbers``, ``choices``, ``short``, ``free``, ``images``: read and grade one answer kind each.
- ``key``: ``load_key`` (staff answers + rubric).
- ``grading``: ``GRADERS`` (kind -> grader), ``grade_answer`` (one question), ``grade_worksheet``
  (all, as TestResults), ``format_table``.
- ``ta_sheet``: the TA round trip (export CSV, merge TA scores).
- ``cli``: the ``worksheet``, ``worksheet-export`` and ``worksheet-merge`` commands.

This package re-exports the public names, so ``from autograder.worksheet import grade_worksheet``
works.
"""

from autograder.worksheet.choices import grade_choice, read_choice
from autograder.worksheet.cli import register
from autograder.worksheet.common import (IMAGE_SUFFIXES, KEY_ENTRY, is_key_entry, key_entry_name, KINDS, MAX_GRADED_CHARS, REPO, STAFF_RUBRIC,
                                         STAFF_WORKSHEET, STUB, WORKSHEET_NAME, Grade, WorksheetError, format_number)
from autograder.worksheet.free import grade_free
from autograder.worksheet.grading import GRADERS, find_worksheet, format_table, grade_answer, grade_worksheet
from autograder.worksheet.images import grade_image, image_links
from autograder.worksheet.key import Question, check_rubric, load_key, load_rubric
from autograder.worksheet.markers import Answer, clean_answer, parse_worksheet, reference_answers
from autograder.worksheet.numbers import ParsedNumber, find_numbers, grade_number, read_number
from autograder.worksheet.short import grade_short
from autograder.worksheet.ta_sheet import (TA_COLUMNS, MergeReport, TaScore, csv_safe, export_class, export_free_text,
                                           merge_ta_scores, merge_ta_scores_into_results, merge_ta_sheet, read_ta_scores,
                                           read_ta_sheet, total_of)

__all__ = [
    "GRADERS", "IMAGE_SUFFIXES", "KEY_ENTRY", "is_key_entry", "key_entry_name", "KINDS", "MAX_GRADED_CHARS", "REPO", "STAFF_RUBRIC", "STAFF_WORKSHEET",
    "STUB", "TA_COLUMNS", "WORKSHEET_NAME", "Answer", "Grade", "ParsedNumber", "Question", "WorksheetError",
    "check_rubric", "clean_answer", "export_free_text", "find_numbers", "find_worksheet", "format_number",
    "format_table", "grade_answer", "grade_choice", "grade_free", "grade_image", "grade_number", "grade_short",
    "grade_worksheet", "image_links", "load_key", "load_rubric", "merge_ta_scores", "merge_ta_scores_into_results",
    "merge_ta_sheet", "read_ta_sheet", "export_class", "csv_safe", "total_of", "MergeReport", "TaScore",
    "parse_worksheet", "read_choice", "read_number", "read_ta_scores", "reference_answers", "register",
]
