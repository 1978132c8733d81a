"""Image answers: the answer links image files that exist in the submission."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import IMAGE_SUFFIXES, Grade

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer

_IMG_RE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def image_links(text: str) -> list[str]:
    """Image paths linked in markdown (``![alt](path)``) or HTML (``<img src="path">``).

    Args:
        text: an answer.
    """
    return [a or b for a, b in _IMG_RE.findall(text)]


def _resolve_image(link: str, worksheet_dir: Path, root: Path) -> tuple[Path | None, str]:
    if re.match(r"^[a-z]+://", link, re.IGNORECASE):
        return None, f"{link} is a web address; add the image file to your submission and link it by a relative path"
    link = link.split("#")[0].split("?")[0]
    from urllib.parse import unquote

    link = unquote(link)
    for base in (worksheet_dir, root):
        cand = (base / link.lstrip("/")).resolve()
        try:
            cand.relative_to(root.resolve())
        except ValueError:
            continue
        if cand.is_file():
            if cand.suffix.lower() not in IMAGE_SUFFIXES:
                return None, f"{link} is not an image file ({', '.join(IMAGE_SUFFIXES)})"
            return cand, ""
    return None, f"{link} is not in your submission (looked beside WORKSHEET.md and at the submission's top level)"


def grade_image(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """An image answer: points for each linked image file found inside the submission (up to ``min_images``)."""
    worksheet_dir = Path(worksheet_dir or ".")
    root = Path(root or worksheet_dir)
    links = image_links(ans.text)
    need = int(q.spec.get("min_images", 1))
    key = f"reference: {q.reference!r}"
    if not links:
        return Grade(0.0, "unanswered" if not ans.answered else "incorrect",
                     "no image linked; add the file to your submission and link it with ![description](images/plot.png)", key)
    found, problems = [], []
    for link in links:
        path, problem = _resolve_image(link, worksheet_dir, root)
        (found.append(str(path)) if path else problems.append(problem))
    score = q.points * min(len(found), need) / need
    status = "correct" if score >= q.points else "partly correct" if score > 0 else "incorrect"
    visible = f"{status}: {len(found)} of {need} image(s) found" + (f"; {'; '.join(problems)}" if problems else "")
    return Grade(score, status, visible, key, found)

