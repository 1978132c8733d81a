"""Tables as GitHub Markdown and as PNG pictures (the research track's outputs).

Rows whose label holds `` − `` are differences: printed with a sign, and in the PNG shaded green
(positive) or red (negative). Missing cells (NaN or None) print as ``—``, never as zero.
"""
from __future__ import annotations

import math
import textwrap

import pandas as pd

MISSING = "—"

# PNG colours (RGB 0..1): accuracies, positive and negative differences, headers.
_VALUE = (0.86, 0.90, 0.97)
_GAIN = (0.80, 0.93, 0.80)
_LOSS = (0.97, 0.82, 0.82)
_HEADER = (0.93, 0.93, 0.93)
_FONT = 8  # points, table cells
_DPI = 110
_MARGIN_IN = 0.08  # inches of white around the picture
_MIN_TEXT_WIDTH_IN = 4.0  # a title or note over a narrower table still wraps at this width


def is_difference(label) -> bool:
    """True for a difference row (its label holds `` − ``)."""
    return " − " in str(label)


def format_cell(value, difference: bool = False) -> str:
    """``—`` for missing, ``+1.23`` for differences, ``98.13`` for accuracies, text unchanged."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, int):
        return str(value)
    return f"{value:+.2f}" if difference else f"{value:.2f}"


def to_markdown(df: pd.DataFrame, title: str = "", note: str = "") -> str:
    """A GitHub Markdown table (missing cells as ``—``) with ``## title`` above and ``note`` below.

    Args:
        df: a table whose index holds the row labels.
        title: heading text (no heading when empty).
        note: paragraphs (separated by blank lines) printed under the table.
    """
    lines = [f"## {title}", ""] if title else []
    if df.empty:
        lines.append("(no runs)")
    else:
        lines.append("| " + " | ".join([df.index.name or ""] + [str(c) for c in df.columns]) + " |")
        numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
        lines.append("| " + " | ".join([":--"] + ["--:" if n else ":--" for n in numeric]) + " |")
        for label, row in df.iterrows():
            diff = is_difference(label)
            lines.append("| " + " | ".join([str(label)] + [format_cell(v, diff) for v in row]) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def _colour(value, difference: bool) -> tuple[float, float, float]:
    if isinstance(value, str) or value is None or (isinstance(value, float) and math.isnan(value)):
        return (1.0, 1.0, 1.0)
    if not difference:
        return _VALUE
    return _GAIN if value > 0 else _LOSS if value < 0 else (1.0, 1.0, 1.0)


def _wrap_to_width(text_artist, text: str, width_px: float, renderer) -> None:
    """Set ``text`` on the artist, wrapped (paragraph by paragraph) to at most ``width_px`` wide."""
    paragraphs = text.split("\n\n")
    lo, hi = 20, max(20, max(len(p) for p in paragraphs))
    best = lo
    while lo <= hi:  # the widest wrap that still fits
        mid = (lo + hi) // 2
        text_artist.set_text("\n\n".join(textwrap.fill(p, mid) for p in paragraphs))
        if text_artist.get_window_extent(renderer).width <= width_px:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    text_artist.set_text("\n\n".join(textwrap.fill(p, best) for p in paragraphs))


def draw_table(df: pd.DataFrame, title: str = "", note: str = "", shade: bool = False):
    """The table as a matplotlib figure: title above, note below, each outside the table.

    Column widths come from the text (``Table.auto_set_column_width``); the title and the note are
    wrapped to the table's width (at least 4 inches) and placed outside it, so neither covers a
    header or a cell.
    Text columns are left-aligned, numbers centred; difference rows are green (positive) or red
    (negative).

    Args:
        df: the table (index: row labels).
        title: drawn above the table.
        note: drawn under the table.
        shade: also shade every number that is not a difference (accuracy tables).

    Returns:
        (figure, table, title text or None, note text or None, bbox in inches holding all three),
        laid out so every extent is final.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4, 2), dpi=_DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    if df.empty:
        text, rows, cols, colours = [["(no runs)"]], [""], [""], [[(1.0, 1.0, 1.0)]]
    else:
        rows = [str(i) for i in df.index]
        cols = [str(c) for c in df.columns]
        text = [[format_cell(v, is_difference(label)) for v in row] for label, row in df.iterrows()]
        colours = [[_colour(v, is_difference(label)) if shade or is_difference(label) else (1.0, 1.0, 1.0)
                    for v in row] for label, row in df.iterrows()]
    table = ax.table(cellText=text, rowLabels=rows, colLabels=cols, cellColours=colours,
                     colColours=[_HEADER] * len(cols), cellLoc="center", rowLoc="left", loc="upper left")
    table.auto_set_font_size(False)
    table.set_fontsize(_FONT)
    table.auto_set_column_width(list(range(-1, len(cols))))
    text_columns = set() if df.empty else {
        j for j, c in enumerate(df.columns) if not pd.api.types.is_numeric_dtype(df[c])}
    for (r, c), cell in table.get_celld().items():
        cell.set_edgecolor((0.75, 0.75, 0.75))
        cell.PAD = 0.12  # of the cell's width, each side
        if r == 0:
            cell.get_text().set_fontweight("bold")
        elif c in text_columns or c == -1:
            # PAD is a fraction of the cell's width, so a wide left-aligned cell gets a small one and a
            # space each side keeps short text off the borders
            cell.PAD = 0.03
            cell.set_text_props(ha="left", text=f" {cell.get_text().get_text()} ")  # placed by ha on each draw
    table.scale(1.0, 1.3)
    renderer = fig.canvas.get_renderer()
    box = table.get_window_extent(renderer)  # pixels; lays out the cells (auto column widths) first
    gap = 0.6 * _FONT * _DPI / 72

    def place(y_px: float, va: str, size: float, weight: str, body: str):
        t = fig.text(box.x0 / fig.bbox.width, y_px / fig.bbox.height, body, ha="left", va=va,
                     fontsize=size, fontweight=weight)
        _wrap_to_width(t, body, max(box.width, _MIN_TEXT_WIDTH_IN * _DPI), renderer)
        return t

    title_artist = place(box.y1 + gap, "bottom", _FONT + 2, "bold", title) if title else None
    note_artist = place(box.y0 - gap, "top", _FONT - 1, "normal", note) if note else None
    from matplotlib.transforms import Bbox

    parts = [box] + [a.get_window_extent(renderer) for a in (title_artist, note_artist) if a is not None]
    bbox = Bbox.union(parts).transformed(fig.dpi_scale_trans.inverted())
    return fig, table, title_artist, note_artist, bbox


def to_png(df: pd.DataFrame, path: str, title: str = "", note: str = "", shade: bool = False) -> None:
    """Write the table as a PNG: shaded accuracy cells, green/red differences, ``—`` where missing.

    The picture is cropped to the table, its title and its note plus a thin margin: ``bbox_inches``
    is their joint extent (what ``"tight"`` would give without the empty axes the table sits in).

    Args:
        df: a table from this package (rows with `` − `` in the label are differences).
        path: PNG file to write.
        title: drawn above the table.
        note: drawn under the table, wrapped to its width.
        shade: shade accuracy cells too (claim tables).
    """
    import matplotlib.pyplot as plt

    fig, _table, _title, _note, bbox = draw_table(df, title, note, shade)
    fig.savefig(path, dpi=_DPI, bbox_inches=bbox.padded(_MARGIN_IN))
    plt.close(fig)
