"""Every figure in research/paper_tables.py beside the value printed in the ViT paper.

The tables below are typed from Dosovitskiy et al., "An Image is Worth 16x16 Words" (ICLR 2021,
arXiv:2010.11929), in the paper's own row and column order, so a reader can check them line by line
against the PDF. The stored data in ``research/paper_tables.py`` is laid out differently (keyed by
model and pre-training data); each test compares every stored cell with the paper's, and the set of
stored cells with the set printed here, so a copy error, a missing cell or an extra one fails.
"""
from __future__ import annotations

import pytest

from research import paper_tables as P

SIX = ("imagenet", "imagenet_real", "cifar10", "cifar100", "oxford_pets", "flowers102")

# Table 2. Columns: ImageNet, ImageNet ReaL, CIFAR-10, CIFAR-100, Oxford-IIIT Pets,
# Oxford Flowers-102, VTAB (19 tasks). "-" in the paper is None here.
PAPER_TABLE2 = {
    ("ViT-H/14", "JFT"): (88.55, 90.72, 99.50, 94.55, 97.56, 99.68, 77.63),
    ("ViT-L/16", "JFT"): (87.76, 90.54, 99.42, 93.90, 97.32, 99.74, 76.28),
    ("ViT-L/16", "I21k"): (85.30, 88.62, 99.15, 93.25, 94.67, 99.61, 72.72),
    ("ResNet152x4", "JFT"): (87.54, 90.54, 99.37, 93.51, 96.62, 99.63, 76.29),  # BiT-L
    ("EfficientNet-L2", "JFT"): (88.4, 90.55, None, None, None, None, None),  # Noisy Student
}

# Table 5 (appendix). One block per pre-training dataset; rows are the fine-tuning datasets in the
# paper's order, columns ViT-B/16, ViT-B/32, ViT-L/16, ViT-L/32, ViT-H/14.
PAPER_TABLE5_MODELS = ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "ViT-H/14")
PAPER_TABLE5 = {
    "ImageNet": {
        "cifar10": (98.13, 97.77, 97.86, 97.94, None),
        "cifar100": (87.13, 86.31, 86.35, 87.07, None),
        "imagenet": (77.91, 73.38, 76.53, 71.16, None),
        "imagenet_real": (83.57, 79.56, 82.19, 77.83, None),
        "flowers102": (89.49, 85.43, 89.66, 86.36, None),
        "oxford_pets": (93.81, 92.04, 93.64, 91.35, None),
    },
    "I21k": {
        "cifar10": (98.95, 98.79, 99.16, 99.13, 99.27),
        "cifar100": (91.67, 91.97, 93.44, 93.04, 93.82),
        "imagenet": (83.97, 81.28, 85.15, 80.99, 85.13),
        "imagenet_real": (88.35, 86.63, 88.40, 85.65, 88.70),
        "flowers102": (99.38, 99.11, 99.61, 99.19, 99.51),
        "oxford_pets": (94.43, 93.02, 94.73, 93.09, 94.82),
    },
    "JFT": {
        "cifar10": (99.00, 98.61, 99.38, 99.19, 99.50),
        "cifar100": (91.87, 90.49, 94.04, 92.52, 94.55),
        "imagenet": (84.15, 80.73, 87.12, 84.37, 88.04),
        "imagenet_real": (88.85, 86.27, 89.99, 88.28, 90.33),
        "flowers102": (99.56, 99.27, 99.56, 99.45, 99.68),
        "oxford_pets": (95.80, 93.40, 97.11, 95.83, 97.56),
    },
}

# Table 6 (appendix), model scaling on JFT-300M. Columns: Epochs, ImageNet, ImageNet ReaL,
# CIFAR-10, CIFAR-100, Pets, Flowers (the paper's average-5 and exaFLOPs columns are not stored).
PAPER_TABLE6 = (
    ("ViT-B/32", 7, 80.73, 86.27, 98.61, 90.49, 93.40, 99.27),
    ("ViT-B/16", 7, 84.15, 88.85, 99.00, 91.87, 95.80, 99.56),
    ("ViT-L/32", 7, 84.37, 88.28, 99.19, 92.52, 95.83, 99.45),
    ("ViT-L/16", 7, 86.30, 89.43, 99.38, 93.46, 96.81, 99.66),
    ("ViT-L/16", 14, 87.12, 89.99, 99.38, 94.04, 97.11, 99.56),
    ("ViT-H/14", 14, 88.08, 90.36, 99.50, 94.71, 97.11, 99.71),
    ("ResNet50x1", 7, 77.54, 84.56, 97.67, 86.07, 91.11, 94.26),
    ("ResNet50x2", 7, 82.12, 87.94, 98.29, 89.20, 93.43, 97.02),
    ("ResNet101x1", 7, 80.67, 87.07, 98.48, 89.17, 94.08, 95.95),
    ("ResNet152x1", 7, 81.88, 87.96, 98.82, 90.22, 94.17, 96.94),
    ("ResNet152x2", 7, 84.97, 89.69, 99.06, 92.05, 95.37, 98.62),
    ("ResNet152x2", 14, 85.56, 89.89, 99.24, 91.92, 95.75, 98.75),
    ("ResNet200x3", 14, 87.22, 90.15, 99.34, 93.53, 96.32, 99.04),
    ("R50x1+ViT-B/32", 7, 84.90, 89.15, 99.01, 92.24, 95.75, 99.46),  # the notebook misprints 87.90
    ("R50x1+ViT-B/16", 7, 85.58, 89.65, 99.14, 92.63, 96.65, 99.40),
    ("R50x1+ViT-L/32", 7, 85.68, 89.04, 99.24, 92.93, 96.97, 99.43),
    ("R50x1+ViT-L/16", 7, 86.60, 89.72, 99.18, 93.64, 97.03, 99.40),
    ("R50x1+ViT-L/16", 14, 87.12, 89.76, 99.31, 93.89, 97.36, 99.11),
)

# Table 4 (appendix): dataset, fine-tuning steps, base learning rates searched; batch size 512.
PAPER_TABLE4 = (
    ("imagenet", 20_000, (0.003, 0.01, 0.03, 0.06)),
    ("cifar100", 10_000, (0.001, 0.003, 0.01, 0.03)),
    ("cifar10", 10_000, (0.001, 0.003, 0.01, 0.03)),
    ("oxford_pets", 500, (0.001, 0.003, 0.01, 0.03)),
    ("flowers102", 500, (0.001, 0.003, 0.01, 0.03)),
)

# Table 1: layers, hidden size D, MLP size, heads.
PAPER_TABLE1 = {"B": (12, 768, 3072, 12), "L": (24, 1024, 4096, 16), "H": (32, 1280, 5120, 16)}

# Table 2, last row: TPUv3-core-days (the paper prints 2.5k, 0.68k, 0.23k, 9.9k, 12.3k).
PAPER_TPU_CORE_DAYS = {
    "ViT-H/14 (JFT)": 2500, "ViT-L/16 (JFT)": 680, "ViT-L/16 (I21k)": 230,
    "BiT-L ResNet152x4 (JFT)": 9900, "Noisy Student EfficientNet-L2 (JFT)": 12300,
}


def _same(stored, printed, where: str) -> None:
    assert stored == printed, f"{where}: stored {stored!r}, the paper prints {printed!r}"


def test_table2_every_figure():
    assert set(P.TABLE2_SOTA) == set(PAPER_TABLE2)
    for key, printed in PAPER_TABLE2.items():
        row = P.TABLE2_SOTA[key]
        assert set(row) == set(SIX + ("vtab",)), key
        for col, value in zip(SIX + ("vtab",), printed):
            _same(row[col], value, f"Table 2 {key} {col}")


def test_table5_every_figure():
    expected = {(m, data) for data in PAPER_TABLE5 for m in PAPER_TABLE5_MODELS}
    assert set(P.TABLE5_PRETRAINING) == expected
    for data, block in PAPER_TABLE5.items():
        for col, values in block.items():
            for model, value in zip(PAPER_TABLE5_MODELS, values):
                _same(P.TABLE5_PRETRAINING[(model, data)][col], value, f"Table 5 {model} ({data}) {col}")
        for model in PAPER_TABLE5_MODELS:
            assert set(P.TABLE5_PRETRAINING[(model, data)]) == set(block), (model, data)


def test_table6_every_figure_including_the_notebooks_misprint():
    assert set(P.TABLE6_SCALING) == {(m, e) for m, e, *_ in PAPER_TABLE6}
    for model, epochs, *values in PAPER_TABLE6:
        row = P.TABLE6_SCALING[(model, epochs)]
        assert set(row) == set(SIX)
        for col, value in zip(SIX, values):
            _same(row[col], value, f"Table 6 {model} {epochs} ep {col}")
    # the reproduction notebook prints 87.90, which would put the hybrid above R50x1+ViT-B/16
    assert P.TABLE6_SCALING[("R50x1+ViT-B/32", 7)]["imagenet"] == 84.90


def test_table4_table1_and_compute():
    assert {d: (g["steps"], tuple(g["lrs"])) for d, g in P.FINETUNE_GRID.items()} == {
        d: (steps, lrs) for d, steps, lrs in PAPER_TABLE4}
    assert P.FINETUNE_BATCH_SIZE == 512
    assert {s: (v["depth"], v["embed_dim"], v["mlp_dim"], v["num_heads"]) for s, v in P.VIT_SIZES.items()} == PAPER_TABLE1
    assert P.PRETRAIN_TPU_CORE_DAYS == PAPER_TPU_CORE_DAYS


def test_table5_jft_rows_agree_with_table6_where_the_paper_repeats_them():
    """Table 5's JFT block repeats Table 6's rows (7 epochs for B and L/32, 14 for L/16): a cross-check."""
    for model, epochs in (("ViT-B/16", 7), ("ViT-B/32", 7), ("ViT-L/32", 7), ("ViT-L/16", 14)):
        for col in SIX:
            assert P.TABLE5_PRETRAINING[(model, "JFT")][col] == pytest.approx(P.TABLE6_SCALING[(model, epochs)][col])
