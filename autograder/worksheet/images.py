"""Image answers: the answer links image files that exist in the submission."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import unquote
from typing import TYPE_CHECKING

from autograder.worksheet.common import IMAGE_SUFFIXES, Grade

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer

_HTML_IMG_RE = re.compile(r"<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_MAX_CANDIDATES = 2000  # files looked at when matching a flat upload by name


@functools.lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def image_links(text: str) -> list[str]:
    """Image paths linked in an answer, in order: Markdown images (``![alt](path)``, parsed by
    markdown-it-py, so links inside code are not images) and HTML ``<img src="path">``.

    Args:
        text: an answer.
    """
    links: list[str] = []

    def walk(tokens) -> None:
        for tok in tokens:
            if tok.type == "image":
                links.append(str(tok.attrs.get("src", "")))
            elif tok.type in ("html_inline", "html_block"):
                links.extend(_HTML_IMG_RE.findall(tok.content))
            if tok.children:
                walk(tok.children)

    walk(_markdown().parse(text))
    return [link for link in links if link]


def check_image(path: Path) -> str:
    """Why ``path`` is not a usable image, or "" when it is: the suffix must be one of
    ``IMAGE_SUFFIXES`` and the file must open as that kind of image (Pillow's ``verify`` for
    raster images; a PDF header; an SVG root element). A 0-byte or renamed file fails.

    Args:
        path: a file inside the submission.
    """
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        return f"{path.name} is not an image file (use one of {', '.join(IMAGE_SUFFIXES)})"
    try:
        if path.stat().st_size == 0:
            return f"{path.name} is empty (0 bytes); export the image again"
        if suffix == ".pdf":
            with open(path, "rb") as f:
                ok = f.read(5) == b"%PDF-"
        elif suffix == ".svg":
            with open(path, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace").lower()
            ok = "<svg" in head
        else:
            from PIL import Image

            with Image.open(path) as im:
                im.verify()
            ok = True
    except Exception:  # Pillow raises many types for a broken file
        ok = False
    return "" if ok else f"{path.name} does not open as an image; export it again as PNG or JPEG"


def _by_name(name: str, root: Path) -> list[Path]:
    """Files called ``name`` (any case) anywhere inside ``root``: uploads without folders."""
    hits = []
    for i, f in enumerate(root.rglob("*")):
        if i >= _MAX_CANDIDATES:
            break
        if f.name.lower() == name.lower() and f.is_file():
            hits.append(f)
    return hits


def _resolve_image(link: str, worksheet_dir: Path, root: Path) -> tuple[Path | None, str]:
    if re.match(r"^[a-z]+://", link, re.IGNORECASE):
        return None, f"{link} is a web address; add the image file to your submission and link it by a relative path"
    link = unquote(link.split("#")[0].split("?")[0])
    for base in (worksheet_dir, root):
        cand = (base / link.lstrip("/")).resolve()
        try:
            cand.relative_to(root.resolve())
        except ValueError:
            continue
        if cand.is_file():
            problem = check_image(cand)
            return (None, f"{link}: {problem}") if problem else (cand, "")
    if ".." not in Path(link).parts:
        hits = [h for h in _by_name(Path(link).name, root) if not check_image(h)]
        if len(hits) == 1:  # Gradescope uploads files without their folders: match by name
            return hits[0].resolve(), ""
    return None, f"{link} is not in your submission (looked beside WORKSHEET.md, at the top level and by file name)"


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

