"""kaggle leaderboard: public ordering, the private (final) reveal, ties, folder layouts, and
invalid entries flagged but not ranked."""
from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from autograder.kaggle import KaggleError, build_leaderboard, find_entries, write_leaderboard

# 6 test images: Ids 0-2 public, Ids 3-5 private. True class of every image is 1.
SOLUTION = pd.DataFrame({"Id": range(6), "Category": [1] * 6, "Usage": ["Public"] * 3 + ["Private"] * 3})


def csv(predictions) -> str:
    return "Id,Category\n" + "".join(f"{i},{c}\n" for i, c in enumerate(predictions))


@pytest.fixture
def folder(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    # name:      public correct / private correct
    (subs / "ada.csv").write_text(csv([1, 1, 1, 0, 0, 0]))      # 3/3, 0/3: overfit the public split
    (subs / "bob.csv").write_text(csv([1, 1, 0, 1, 1, 1]))      # 2/3, 3/3
    (subs / "cy").mkdir()
    (subs / "cy" / "submission.csv").write_text(csv([1, 0, 0, 1, 1, 0]))  # 1/3, 2/3 (folder layout)
    with zipfile.ZipFile(subs / "dee.zip", "w") as z:              # 2/3, 1/3 (zip layout, nested)
        z.writestr("hw/submission.csv", csv([0, 1, 1, 1, 0, 0]))
    (subs / "eve.csv").write_text(csv([1, 1, 1]))                  # invalid: 3 rows
    (subs / "fay").mkdir()                                         # invalid: no submission.csv
    (subs / "notes.txt").write_text("hello")                       # not a submission
    (subs / ".DS_Store").write_text("")                            # hidden: skipped
    SOLUTION.to_csv(tmp_path / "solution.csv", index=False)
    return subs


def test_public_ranking_hides_private_scores(folder):
    board = build_leaderboard(folder, folder.parent / "solution.csv")
    assert list(board.columns) == ["rank", "team", "public", "file", "problem"]
    ranked = board[board["rank"].notna()]
    # bob and dee tie at 2/3: they share rank 2 (listed by name), cy is 4th.
    assert list(zip(ranked["rank"], ranked["team"])) == [(1, "ada"), (2, "bob"), (2, "dee"), (4, "cy")]
    assert ranked["public"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1 / 3])
    assert ranked["file"].tolist() == ["ada.csv", "bob.csv", "dee.zip:hw/submission.csv", "cy/submission.csv"]


def test_final_ranking_reveals_the_private_split(folder):
    board = build_leaderboard(folder, folder.parent / "solution.csv", final=True)
    ranked = board[board["rank"].notna()]
    assert list(zip(ranked["rank"], ranked["team"])) == [(1, "bob"), (2, "cy"), (3, "dee"), (4, "ada")]
    assert ranked["private"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 0])
    assert ranked["public_rank"].tolist() == [2, 4, 2, 1]
    assert ranked["moved"].tolist() == [1, 2, -1, -3]


def test_invalid_entries_are_flagged_not_ranked(folder):
    board = build_leaderboard(folder, folder.parent / "solution.csv")
    unranked = board[board["rank"].isna()].set_index("team")["problem"].to_dict()
    assert unranked == {
        "eve": "file: 3 data rows; expected 6 rows, one per test image (and 1 more)",
        "fay": "no submission.csv inside the folder",
        "notes.txt": "not a .csv, a .zip or a folder with submission.csv",
    }
    assert ".DS_Store" not in set(board["team"])


def test_written_tables(folder, tmp_path):
    board = build_leaderboard(folder, folder.parent / "solution.csv", final=True)
    csv_path, md_path = write_leaderboard(board, tmp_path / "out")
    assert pd.read_csv(csv_path)["team"].tolist()[:4] == ["bob", "cy", "dee", "ada"]
    md = md_path.read_text()
    assert md.startswith("# Final leaderboard (private split)\n\n| rank | team | private | public | public_rank | moved |")
    assert "| 1 | bob | 1.00000 | 0.66667 | 2 | +1 |" in md
    assert "| 4 | ada | 0.00000 | 1.00000 | 1 | -3 |" in md
    assert "## Not ranked" in md and "| fay | fay/ | no submission.csv inside the folder |" in md


def test_bad_zip_and_missing_folder(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("readme.txt", "x")
    problems = {e.team: e.problem for e in find_entries(tmp_path)}
    assert problems["broken"].startswith("cannot read the zip")
    assert problems["empty"] == "no submission.csv inside the zip"
    with pytest.raises(KaggleError, match="submissions folder .* not found"):
        find_entries(tmp_path / "absent")


def test_zips_go_through_the_door(tmp_path):
    """An unsafe zip is refused unread, and of two submission.csv the one grade grades counts."""
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../submission.csv", csv([1] * 6))
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("submission.csv", csv([0] * 6))          # an old draft at the top
        z.writestr("hw/submission.csv", csv([1] * 6))       # beside the handed-in code: the one graded
        z.writestr("hw/models/vit.py", "# mine\n")
    entries = {e.team: e for e in find_entries(tmp_path)}
    assert entries["evil"].source is None and entries["evil"].problem.startswith("cannot read the zip")
    assert "outside the zip" in entries["evil"].problem
    assert entries["two"].file == "two.zip:hw/submission.csv" and entries["two"].source == csv([1] * 6).encode()

    from autograder.submission import assemble
    from tests.test_release import shared_handout

    (tmp_path / "unz").mkdir()
    with zipfile.ZipFile(tmp_path / "two.zip") as z:
        z.extractall(tmp_path / "unz")
    work = assemble(tmp_path / "unz", shared_handout(), tmp_path / "work").workdir
    assert (work / "submission.csv").read_text() == csv([1] * 6)  # grade takes the same file


def test_written_csv_has_no_live_formulas(tmp_path):
    """A team named like a formula ("=HYPERLINK(...)", "-x") is text in leaderboard.csv, as in
    gradebook.csv and the TA sheet: a spreadsheet must not run it (CSV injection)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "=HYPERLINK(1).csv").write_text(csv([1] * 6))
    (subs / "-x.csv").write_text(csv([1] * 6))
    (subs / "@bad").mkdir()
    SOLUTION.to_csv(tmp_path / "solution.csv", index=False)
    board = build_leaderboard(subs, tmp_path / "solution.csv")
    csv_path, md_path = write_leaderboard(board, tmp_path / "out")
    written = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    for column in ("team", "file", "problem"):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in written[column]), written[column].tolist()
    assert set(written["team"]) == {"'=HYPERLINK(1)", "'-x", "'@bad"}
    assert "| 1 | =HYPERLINK(1) | 1.00000 |" in md_path.read_text()  # Markdown runs nothing: names as written
