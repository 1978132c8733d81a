"""nbgrader's marker dialect for plain files: find regions, strip them with nbgrader's own preprocessors.

The staff keep solutions in the same files as the skeleton. Code regions sit between nbgrader's
solution delimiters (written as ``###`` comments), hidden tests between its hidden-test
delimiters, and in Markdown the same words sit inside HTML comments. nbgrader only processes
notebooks, so a ``.py`` file is wrapped as one code cell and a ``.md`` file as one markdown cell of
an in-memory notebook, run through ``ClearSolutions``, ``ClearHiddenTests`` and
``ClearMarkScheme``, and unwrapped. The delimiter words are read from nbgrader's own defaults, so
this file holds no literal marker and can be checked like any other.

The pipeline, one small step each:
    ``find_markers`` (where are the markers) -> ``check_regions`` (balanced, not nested; errors
    name the file and line) -> ``strip_text`` / ``strip_notebook`` (nbgrader) -> ``find_markers``
    again on the result (nothing may survive).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# nbgrader's defaults (ClearSolutions.begin_solution_delimeter etc.), spelt in two halves so the
# words never appear whole in this file; ``_nbgrader_delimiters`` checks them against nbgrader.
_SOLUTION, _HIDDEN, _SCHEME = "SOL" + "UTION", "HIDDEN " + "TESTS", "MARK " + "SCHEME"
REGIONS: dict[str, tuple[str, str]] = {
    "solution": ("BEGIN " + _SOLUTION, "END " + _SOLUTION),
    "hidden tests": ("BEGIN " + _HIDDEN, "END " + _HIDDEN),
    "mark scheme": ("BEGIN " + _SCHEME, "END " + _SCHEME),
}
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"  # nbgrader's python stub
TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's text stub
CODE_SUFFIXES = (".py",)
TEXT_SUFFIXES = (".md",)
NOTEBOOK_SUFFIXES = (".ipynb",)

# A marker-like comment nbgrader would NOT act on (wrong case, doubled space, plural...): a typo in
# a staff file. Caught so that it fails the release instead of shipping the solution under it.
_LOOSE = re.compile(
    r"^\s*(?:#+|<!--|//)\s*(begin|end)[\s_-]+(solutions?|hidden[\s_-]+tests?|mark[\s_-]+schemes?)\b",
    re.IGNORECASE,
)


# Markdown documentation may quote the markers in code (`...` spans, fenced blocks): there they are
# text, not markers. Before matching and before nbgrader runs, the space inside a quoted marker is
# swapped for this private-use character (so no delimiter matches), and swapped back afterwards.
_MASK = "\ue000"
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def mask_quoted_markers(text: str) -> str:
    """Markdown ``text`` with the markers quoted in code spans or fenced blocks made inert.

    Args:
        text: a Markdown document; lines and their count are kept.
    """
    words = [w for pair in REGIONS.values() for w in pair]

    def inert(chunk: str) -> str:
        for w in words:
            chunk = chunk.replace(w, w.replace(" ", _MASK))
        return re.sub(r"(?i)(begin|end)(\s+)(solution|hidden|mark)", lambda m: m.group(1) + _MASK + m.group(3), chunk)

    out, fence = [], None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * 3
            out.append(line)
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append(line if fence is None else inert(line))
        else:
            out.append(_CODE_SPAN.sub(lambda s: s.group(1) + inert(s.group(2)) + s.group(1), line))
    return "\n".join(out)


def unmask(text: str) -> str:
    """Undo ``mask_quoted_markers``."""
    return text.replace(_MASK, " ")


class MarkerError(ValueError):
    """A malformed marker region (unbalanced, nested or misspelt), naming the file and line."""


@dataclass(frozen=True)
class Marker:
    """One marker found in a text.

    Args:
        line: 1-based line number.
        region: ``solution``, ``hidden tests`` or ``mark scheme``.
        begin: True for a BEGIN marker, False for an END marker.
        exact: True when nbgrader's delimiter is on the line; False for a misspelt marker.
        text: the line itself, stripped.
    """

    line: int
    region: str
    begin: bool
    exact: bool
    text: str


def find_markers(text: str, markdown: bool = False) -> list[Marker]:
    """Every marker in ``text`` (nbgrader's delimiters, and misspelt marker comments).

    Args:
        text: a file's contents.
        markdown: the text is Markdown: markers quoted in code spans or fenced blocks are
            documentation, not markers.
    """
    if markdown:
        text = mask_quoted_markers(text)
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        hit = None
        for region, (begin, end) in REGIONS.items():
            if begin in line:
                hit = Marker(number, region, True, True, line.strip())
            elif end in line:
                hit = Marker(number, region, False, True, line.strip())
            if hit:
                break
        if hit is None and (m := _LOOSE.match(line)):
            words = m.group(2).lower()
            region = "solution" if words.startswith("sol") else "hidden tests" if words.startswith("hid") else "mark scheme"
            hit = Marker(number, region, m.group(1).lower() == "begin", False, line.strip())
        if hit:
            found.append(hit)
    return found


def check_regions(text: str, path: str | Path = "<text>", markdown: bool = False) -> list[Marker]:
    """Check that every region is well formed; return its markers.

    Args:
        text: a file's contents.
        path: the file's name, for the error message.
        markdown: see ``find_markers``.

    Raises:
        MarkerError: a misspelt marker, a BEGIN inside an open region, an END with no BEGIN, or a
            region left open at the end of the file. The message names the file and line.
    """
    markers = find_markers(text, markdown)
    open_marker: Marker | None = None
    for m in markers:
        where = f"{path}:{m.line}: {m.text!r}"
        if not m.exact:
            begin, end = REGIONS[m.region]
            raise MarkerError(
                f"{where} looks like a marker but is not one nbgrader recognises, so the text under it "
                f"would ship to students. Write it exactly as '### {begin if m.begin else end}' "
                f"(Markdown: '<!-- {begin if m.begin else end} -->')."
            )
        if m.begin and open_marker is not None:
            raise MarkerError(
                f"{where} opens a {m.region} region inside the {open_marker.region} region opened at line "
                f"{open_marker.line}. Close that region first with its END marker."
            )
        if not m.begin and (open_marker is None or open_marker.region != m.region):
            opened = f"the {open_marker.region} region opened at line {open_marker.line}" if open_marker else "no open region"
            raise MarkerError(
                f"{where} closes a {m.region} region but there is {opened}. Add the matching BEGIN "
                f"marker above it or delete this line."
            )
        open_marker = m if m.begin else None
    if open_marker is not None:
        raise MarkerError(
            f"{path}:{open_marker.line}: {open_marker.text!r} opens a {open_marker.region} region that is "
            f"never closed. Add its END marker where the region stops."
        )
    return markers


@lru_cache(maxsize=1)
def _preprocessors() -> tuple:
    """nbgrader's preprocessors, built once (importing nbgrader takes a few seconds)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearOutput, ClearSolutions

    # enforce_metadata=False: a wrapped file is one cell without nbgrader's cell metadata; the
    # regions themselves are what matter, and check_regions/find_markers guard the result.
    steps = (
        ClearSolutions(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB, enforce_metadata=False),
        ClearHiddenTests(enforce_metadata=False),
        ClearMarkScheme(enforce_metadata=False),
        ClearOutput(),
    )
    _nbgrader_delimiters(steps)
    return steps


def _nbgrader_delimiters(steps: tuple) -> None:
    clear_solutions, clear_hidden, clear_scheme, _ = steps
    ours = {
        "solution": (clear_solutions.begin_solution_delimeter, clear_solutions.end_solution_delimeter),
        "hidden tests": (clear_hidden.begin_test_delimeter, clear_hidden.end_test_delimeter),
        "mark scheme": (clear_scheme.begin_mark_scheme_delimeter, clear_scheme.end_mark_scheme_delimeter),
    }
    assert ours == REGIONS, f"nbgrader's delimiters changed: {ours}"


def strip_notebook(nb, path: str | Path = "<notebook>"):
    """Run nbgrader's ClearSolutions, ClearHiddenTests, ClearMarkScheme and ClearOutput on a notebook.

    Args:
        nb: an ``nbformat`` v4 notebook (modified and returned).
        path: the notebook's name, for error messages.

    Raises:
        MarkerError: a malformed region in any cell, or a marker that survived nbgrader.
    """
    for index, cell in enumerate(nb.cells):
        markdown = cell.cell_type == "markdown"
        check_regions(cell.source, f"{path} (cell {index})", markdown)
        if markdown:
            cell.source = mask_quoted_markers(cell.source)
    resources: dict = {}
    for step in _preprocessors():
        nb, resources = step.preprocess(nb, resources)
    for index, cell in enumerate(nb.cells):
        left = find_markers(cell.source)
        cell.source = unmask(cell.source)
        if left:
            raise MarkerError(f"{path} (cell {index}):{left[0].line}: marker {left[0].text!r} survived nbgrader.")
    return nb


def strip_text(text: str, cell_type: str, path: str | Path = "<text>") -> str:
    """Strip a plain file's regions with nbgrader: code stubs for ``code``, text stubs for ``markdown``.

    Args:
        text: the file's contents.
        cell_type: ``code`` (a ``.py`` file) or ``markdown`` (a ``.md`` file).
        path: the file's name, for error messages.

    Raises:
        MarkerError: a malformed region, or a marker that survived (file and line named).
    """
    import nbformat

    if cell_type not in ("code", "markdown"):
        raise ValueError(f"cell_type must be 'code' or 'markdown', not {cell_type!r}")
    check_regions(text, path, cell_type == "markdown")
    make_cell = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook(cells=[make_cell(text)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = strip_notebook(nb, path)
    return nb.cells[0].source


def strip_file(src: Path, dst: Path) -> bool:
    """Write ``src`` to ``dst`` with its regions stripped; return True if anything changed.

    Args:
        src: a ``.py``, ``.md`` or ``.ipynb`` file (other files are copied unchanged when they hold
            no marker, and rejected when they do).
        dst: where to write the stripped copy.

    Raises:
        MarkerError: a malformed region, a marker that survived, or a marker in a file type nbgrader
            cannot strip.
    """
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    raw = src.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        dst.write_bytes(raw)  # binary: no marker can be read in it
        return False
    suffix = src.suffix.lower()
    if not find_markers(text, markdown=suffix in TEXT_SUFFIXES) and suffix not in NOTEBOOK_SUFFIXES:
        dst.write_bytes(raw)
        return False
    if suffix in NOTEBOOK_SUFFIXES:
        import nbformat

        nb = strip_notebook(nbformat.reads(text, as_version=4), src)
        out = nbformat.writes(nb)
    elif suffix in CODE_SUFFIXES:
        out = strip_text(text, "code", src)
    elif suffix in TEXT_SUFFIXES:
        out = strip_text(text, "markdown", src)
    else:
        m = find_markers(text)[0]
        raise MarkerError(
            f"{src}:{m.line}: {m.text!r}: markers are only stripped from .py, .md and .ipynb files. "
            f"Move the region into one of those or leave this file out of the release."
        )
    dst.write_text(out, encoding="utf-8")
    return out != text


def has_solution_regions(path: str | Path) -> bool:
    """True if the file holds a solution region (such files are the ones students edit).

    Args:
        path: a file of the staff copy.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    if Path(path).suffix.lower() in NOTEBOOK_SUFFIXES:
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return False
        if any(c.get("metadata", {}).get("nbgrader", {}).get("solution") for c in cells):
            return True  # an nbgrader solution cell: the whole cell is the student's
        text = "\n".join("".join(c.get("source", "")) for c in cells)
    markdown = Path(path).suffix.lower() in TEXT_SUFFIXES
    return any(m.region == "solution" and m.begin for m in find_markers(text, markdown))
