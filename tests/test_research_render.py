"""The pictures: PNG tables (title and note outside the table, no overflowing cell, no empty margin)
and the curves (a title naming the run and model, whole-number epoch ticks, legends with the model)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from config import load_config  # noqa: E402
from engine import run_log  # noqa: E402
from research import claims, compare, render  # noqa: E402

LONG_NOTE = ("Ours: test accuracy (%) of the run chosen on the validation split, as the paper picks its "
             "learning rate on held-out data and reports test accuracy. Only finished runs count.\n\n"
             "Unfinished, not counted: vitb16_pets_lr0.003 (ViT-B/16 (I21k), oxford_pets: 6/500 steps).")


def _tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """A claim table (long row labels, NaN cells, differences) and two wide text tables."""
    cells = {("ViT-B/16", "I21k", "oxford_pets"): claims.Cell(94.81, 95.0, "r", ("r",))}
    claim2 = claims.CLAIMS[1]
    run = claims.Run("output/vitb16_pets_lr0.003", {
        "MODEL": {"NAME": "timm", "PRETRAINED": "augreg_in21k", "TIMM": {"ARCH": "vit_base_patch16_224"}},
        "DATA": {"DATASET": "oxford_pets", "BATCH_SIZE": 64}, "TRAIN": {"EPOCHS": 10, "STEPS": 500, "LR": 0.003}},
        [{"epoch": 1, "step": 6, "val_acc": 0.999, "epoch_time": 12.5, "images_per_sec": 181.2}])
    return {
        "claim2": (claims.claim_table(claim2, cells), claim2.title),
        "training_time": (claims.training_time_table([run] * 3), "Training time of our runs"),
        "runs": (claims.runs_table([run], cells), "Every run found, and whether it counts"),
    }


@pytest.fixture(scope="module")
def drawn():
    out = {}
    for name, (df, title) in _tables().items():
        fig, table, title_artist, note_artist, bbox = render.draw_table(df, title, LONG_NOTE, shade=True)
        renderer = fig.canvas.get_renderer()
        out[name] = (fig, table, title_artist, note_artist, bbox, renderer)
    yield out
    for fig, *_ in out.values():
        plt.close(fig)


@pytest.mark.parametrize("name", ["claim2", "training_time", "runs"])
def test_title_and_note_sit_outside_the_table(drawn, name):
    fig, table, title, note, _bbox, renderer = drawn[name]
    box = table.get_window_extent(renderer)
    title_box, note_box = title.get_window_extent(renderer), note.get_window_extent(renderer)
    assert title_box.y0 > box.y1, f"{name}: title bottom {title_box.y0:.1f} px is not above the table top {box.y1:.1f}"
    assert note_box.y1 < box.y0, f"{name}: note top {note_box.y1:.1f} px is not under the table bottom {box.y0:.1f}"
    for (row, col), cell in table.get_celld().items():
        if row == 0:  # the column headers (the old title covered them)
            assert not title_box.overlaps(cell.get_window_extent(renderer)), f"{name}: title covers header {col}"
    # wrapped to the table's width (or 4 inches for a narrow table)
    assert title_box.width <= max(box.width, 4 * fig.dpi) + 1 and note_box.width <= max(box.width, 4 * fig.dpi) + 1


@pytest.mark.parametrize("name", ["claim2", "training_time", "runs"])
def test_no_cell_text_overflows_its_cell(drawn, name):
    _fig, table, _t, _n, _b, renderer = drawn[name]
    for (row, col), cell in table.get_celld().items():
        cell_box = cell.get_window_extent(renderer)
        cell._set_text_position(renderer)  # where a draw puts the text
        text_box = cell.get_text().get_window_extent(renderer)
        assert cell_box.x0 - 0.5 <= text_box.x0 and text_box.x1 <= cell_box.x1 + 0.5, (
            f"{name}: cell ({row}, {col}) {cell.get_text().get_text()!r} spans x {text_box.x0:.1f}..{text_box.x1:.1f}, "
            f"its cell {cell_box.x0:.1f}..{cell_box.x1:.1f}")
        assert cell_box.y0 - 0.5 <= text_box.y0 and text_box.y1 <= cell_box.y1 + 0.5, (name, row, col)


def test_png_is_cropped_to_the_table(tmp_path):
    for name, (df, title) in _tables().items():
        path = tmp_path / f"{name}.png"
        render.to_png(df, str(path), title, LONG_NOTE)
        fig, table, *_rest = render.draw_table(df, title, LONG_NOTE)
        table_px = table.get_window_extent(fig.canvas.get_renderer()).width
        plt.close(fig)
        width, _height = Image.open(path).size
        # the old pictures left 40% of the width empty; now only a thin margin is left
        assert table_px / width > 0.95, f"{name}: table {table_px:.0f} px of a {width} px wide picture"
        assert abs(width - (table_px + 2 * render._MARGIN_IN * render._DPI)) <= 3, name


def test_empty_table_png_says_no_runs(tmp_path):
    render.to_png(pd.DataFrame(), str(tmp_path / "empty.png"), "Training time of our runs")
    width, height = Image.open(tmp_path / "empty.png").size
    assert 0 < width <= 4.5 * render._DPI and height < 2 * render._DPI


def test_markdown_missing_and_difference_cells():
    df = pd.DataFrame({"Pets": [94.81, float("nan"), 0.38], "model": ["ViT-B/16", "x", "y"]},
                      index=["ours: a", "ours: b", "ours: a − paper: a"])
    md = render.to_markdown(df, "T", "note")
    assert "| ours: a | 94.81 | ViT-B/16 |" in md and "| ours: b | — | x |" in md
    assert "| ours: a − paper: a | +0.38 | y |" in md
    assert "| :-- | --: | :-- |" in md  # numbers right-aligned, text left
    assert md.endswith("\nnote\n")


# ----------------------------------------------------------------------------------------- curves.png
RECORDS = [{"epoch": e, "step": 3 * e, "lr": 0.01, "train_loss": 1.0 / e, "train_acc": 0.5 + 0.1 * e,
            "val_loss": 1.2 / e, "val_acc": 0.4 + 0.1 * e} for e in (1, 2, 3)]


def _integer_ticks(ax) -> list[float]:
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def test_run_curves_have_the_run_and_model_in_the_title_and_whole_epoch_ticks():
    fig = run_log.curves_figure(RECORDS, "lenet_digits: lenet on digits")
    fig.canvas.draw()
    assert fig.get_suptitle() == "lenet_digits: lenet on digits"
    for ax in fig.axes:
        ticks = _integer_ticks(ax)
        assert ticks and all(t == math.floor(t) for t in ticks), ticks
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "val"]
    plt.close(fig)


def test_recorder_titles_curves_png_with_run_folder_and_model(tmp_path, monkeypatch):
    cfg = load_config(None, ["MODEL.NAME", "timm", "MODEL.TIMM.ARCH", "vit_tiny_patch16_224",
                             "DATA.DATASET", "digits"])
    assert run_log.curves_title(str(tmp_path / "vit_digits_lr0.01"), cfg) == \
        "vit_digits_lr0.01: vit_tiny_patch16_224 on digits"
    seen = {}
    real = run_log.plot_curves
    monkeypatch.setattr(run_log, "plot_curves", lambda records, path, title="": (
        seen.update(title=title, epochs=[r["epoch"] for r in records]), real(records, path, title)))
    out = tmp_path / "vit_digits_lr0.01"
    out.mkdir()
    recorder = run_log.RunRecorder(str(out), cfg)
    for record in RECORDS:
        recorder.log_epoch(record)
    recorder.close()
    assert seen == {"title": "vit_digits_lr0.01: vit_tiny_patch16_224 on digits", "epochs": [1, 2, 3]}
    assert Image.open(out / "curves.png").size[0] > 0


def test_comparison_curves_legend_names_each_run_with_its_model(tmp_path):
    def run(name, arch, steps, records):
        return claims.Run(str(tmp_path / name), {
            "MODEL": {"NAME": "timm", "PRETRAINED": "", "TIMM": {"ARCH": arch}},
            "DATA": {"DATASET": "cifar10"}, "TRAIN": {"EPOCHS": 3, "STEPS": steps}}, records)

    group = [run("swin_lr0.001", "swin_tiny_patch4_window7_224", 0, RECORDS),
             run("mixer_lr0.001", "mixer_b16_224", 0, RECORDS[:2])]
    fig = compare.curves_figure("cifar10", group)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["swin_lr0.001 (swin_tiny_patch4_window7_224, scratch)",
                      "mixer_lr0.001 (mixer_b16_224, scratch; unfinished: 2/3 epochs)"]
    assert fig.get_suptitle() == "cifar10: 2 runs"
    for ax in fig.axes:
        ticks = _integer_ticks(ax)
        assert ticks and all(t == math.floor(t) for t in ticks), ticks
    plt.close(fig)
