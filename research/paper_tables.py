"""The ViT paper's published figures (Dosovitskiy et al., 2021), stored as data.

Accuracies are top-1 percentages exactly as printed in the paper's tables (Tables 1, 2, 4, 5 and 6
of arXiv:2010.11929). They were collected from the course's reproduction notebook and checked
against the paper; ``tests/test_research_paper.py`` lists every figure beside the paper's value, so
a copy error fails a test. ``None`` marks a cell the paper leaves empty. Column keys are the short
dataset names in :data:`COLUMNS`.
"""
from __future__ import annotations

# Column key -> header printed in the tables.
COLUMNS: dict[str, str] = {
    "imagenet": "ImageNet",
    "imagenet_real": "ImageNet ReaL",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "oxford_pets": "Pets",
    "flowers102": "Flowers",
    "vtab": "VTAB (19 tasks)",
}

# Our DATA.DATASET name -> column key. Columns without an entry (ReaL labels, VTAB) have no run
# of ours and always show as missing.
DATASET_TO_COLUMN: dict[str, str] = {
    "imagenet": "imagenet",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "oxford_pets": "oxford_pets",
    "flowers102": "flowers102",
}

_SIX = ("imagenet", "imagenet_real", "cifar10", "cifar100", "oxford_pets", "flowers102")


def _row(values: tuple) -> dict[str, float | None]:
    return dict(zip(_SIX + ("vtab",), values))


# Table 2: comparison with the state of the art (pre-trained on JFT-300M unless noted).
# Key: (model, pre-training data) -> accuracies.
TABLE2_SOTA: dict[tuple[str, str], dict[str, float | None]] = {
    ("ViT-H/14", "JFT"): _row((88.55, 90.72, 99.50, 94.55, 97.56, 99.68, 77.63)),
    ("ViT-L/16", "JFT"): _row((87.76, 90.54, 99.42, 93.90, 97.32, 99.74, 76.28)),
    ("ViT-L/16", "I21k"): _row((85.30, 88.62, 99.15, 93.25, 94.67, 99.61, 72.72)),
    ("ResNet152x4", "JFT"): _row((87.54, 90.54, 99.37, 93.51, 96.62, 99.63, 76.29)),  # BiT-L
    ("EfficientNet-L2", "JFT"): _row((88.4, 90.55, None, None, None, None, None)),  # Noisy Student
}

# Table 5: ViT fine-tuned after pre-training on ImageNet, ImageNet-21k or JFT-300M.
# Per pre-training data and model: ImageNet, ReaL, CIFAR-10, CIFAR-100, Pets, Flowers.
_T5_ORDER = ("cifar10", "cifar100", "imagenet", "imagenet_real", "flowers102", "oxford_pets")
_T5_MODELS = ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "ViT-H/14")
_T5_RAW: dict[str, tuple[tuple, ...]] = {
    # one tuple per dataset in _T5_ORDER, one value per model in _T5_MODELS
    "ImageNet": (
        (98.13, 97.77, 97.86, 97.94, None),
        (87.13, 86.31, 86.35, 87.07, None),
        (77.91, 73.38, 76.53, 71.16, None),
        (83.57, 79.56, 82.19, 77.83, None),
        (89.49, 85.43, 89.66, 86.36, None),
        (93.81, 92.04, 93.64, 91.35, None),
    ),
    "I21k": (
        (98.95, 98.79, 99.16, 99.13, 99.27),
        (91.67, 91.97, 93.44, 93.04, 93.82),
        (83.97, 81.28, 85.15, 80.99, 85.13),
        (88.35, 86.63, 88.40, 85.65, 88.70),
        (99.38, 99.11, 99.61, 99.19, 99.51),
        (94.43, 93.02, 94.73, 93.09, 94.82),
    ),
    "JFT": (
        (99.00, 98.61, 99.38, 99.19, 99.50),
        (91.87, 90.49, 94.04, 92.52, 94.55),
        (84.15, 80.73, 87.12, 84.37, 88.04),
        (88.85, 86.27, 89.99, 88.28, 90.33),
        (99.56, 99.27, 99.56, 99.45, 99.68),
        (95.80, 93.40, 97.11, 95.83, 97.56),
    ),
}
TABLE5_PRETRAINING: dict[tuple[str, str], dict[str, float | None]] = {
    (model, data): {col: rows[i][j] for i, col in enumerate(_T5_ORDER)}
    for data, rows in _T5_RAW.items()
    for j, model in enumerate(_T5_MODELS)
}

# Table 6 (appendix): ResNet (BiT), ViT and hybrids pre-trained on JFT-300M for 7 or 14 epochs.
# Key: (model, pre-training epochs) -> ImageNet, ReaL, CIFAR-10, CIFAR-100, Pets, Flowers.
# R50x1+ViT-B/32's ImageNet figure is the paper's 84.90; the reproduction notebook misprints it as 87.90.
TABLE6_SCALING: dict[tuple[str, int], dict[str, float | None]] = {
    (m, e): dict(zip(_SIX, v)) for m, e, v in (
        ("ResNet50x1", 7, (77.54, 84.56, 97.67, 86.07, 91.11, 94.26)),
        ("ResNet50x2", 7, (82.12, 87.94, 98.29, 89.20, 93.43, 97.02)),
        ("ResNet101x1", 7, (80.67, 87.07, 98.48, 89.17, 94.08, 95.95)),
        ("ResNet152x1", 7, (81.88, 87.96, 98.82, 90.22, 94.17, 96.94)),
        ("ResNet152x2", 7, (84.97, 89.69, 99.06, 92.05, 95.37, 98.62)),
        ("ResNet152x2", 14, (85.56, 89.89, 99.24, 91.92, 95.75, 98.75)),
        ("ResNet200x3", 14, (87.22, 90.15, 99.34, 93.53, 96.32, 99.04)),
        ("ViT-B/32", 7, (80.73, 86.27, 98.61, 90.49, 93.40, 99.27)),
        ("ViT-B/16", 7, (84.15, 88.85, 99.00, 91.87, 95.80, 99.56)),
        ("ViT-L/32", 7, (84.37, 88.28, 99.19, 92.52, 95.83, 99.45)),
        ("ViT-L/16", 7, (86.30, 89.43, 99.38, 93.46, 96.81, 99.66)),
        ("ViT-L/16", 14, (87.12, 89.99, 99.38, 94.04, 97.11, 99.56)),
        ("ViT-H/14", 14, (88.08, 90.36, 99.50, 94.71, 97.11, 99.71)),
        ("R50x1+ViT-B/32", 7, (84.90, 89.15, 99.01, 92.24, 95.75, 99.46)),
        ("R50x1+ViT-B/16", 7, (85.58, 89.65, 99.14, 92.63, 96.65, 99.40)),
        ("R50x1+ViT-L/32", 7, (85.68, 89.04, 99.24, 92.93, 96.97, 99.43)),
        ("R50x1+ViT-L/16", 7, (86.60, 89.72, 99.18, 93.64, 97.03, 99.40)),
        ("R50x1+ViT-L/16", 14, (87.12, 89.76, 99.31, 93.89, 97.36, 99.11)),
    )
}

# Table 4 (appendix): fine-tuning steps and the learning-rate grid searched per dataset.
# Batch size 512 throughout, SGD with momentum 0.9, no weight decay, gradient clipping at norm 1.
FINETUNE_GRID: dict[str, dict] = {
    "imagenet": {"steps": 20_000, "lrs": (0.003, 0.01, 0.03, 0.06)},
    "cifar100": {"steps": 10_000, "lrs": (0.001, 0.003, 0.01, 0.03)},
    "cifar10": {"steps": 10_000, "lrs": (0.001, 0.003, 0.01, 0.03)},
    "oxford_pets": {"steps": 500, "lrs": (0.001, 0.003, 0.01, 0.03)},
    "flowers102": {"steps": 500, "lrs": (0.001, 0.003, 0.01, 0.03)},
}
FINETUNE_BATCH_SIZE = 512

# Pre-training compute reported in Table 2, in TPUv3-core-days.
PRETRAIN_TPU_CORE_DAYS: dict[str, float] = {
    "ViT-H/14 (JFT)": 2500,
    "ViT-L/16 (JFT)": 680,
    "ViT-L/16 (I21k)": 230,
    "BiT-L ResNet152x4 (JFT)": 9900,
    "Noisy Student EfficientNet-L2 (JFT)": 12300,
}

# Model sizes (Table 1; its parameter counts are left out: they answer worksheet questions 9.3-9.5).
VIT_SIZES: dict[str, dict[str, int]] = {
    "B": {"depth": 12, "embed_dim": 768, "mlp_dim": 3072, "num_heads": 12},
    "L": {"depth": 24, "embed_dim": 1024, "mlp_dim": 4096, "num_heads": 16},
    "H": {"depth": 32, "embed_dim": 1280, "mlp_dim": 5120, "num_heads": 16},
}

# Which checkpoints are public, per pre-training data (I1k, I21k, JFT): True, False or a note.
PUBLIC_WEIGHTS: dict[str, tuple] = {
    "ResNet50x1": (True, True, False),
    "ResNet50x2": (False, False, False),
    "ResNet101x1": (True, True, False),
    "ResNet152x1": (False, False, False),
    "ResNet152x2": (True, True, False),
    "ResNet152x4": (True, True, False),
    "ResNet200x3": (False, False, False),
    "ViT-B/32": ("SAM only", True, False),
    "ViT-B/16": ("SAM only", True, False),
    "ViT-L/32": ("SAM only", True, False),
    "ViT-L/16": ("SAM only", True, False),
    "ViT-H/14": (False, True, False),
    "R50x1+ViT-B/32": (False, "R26 variant only", False),
    "R50x1+ViT-B/16": (False, True, False),
    "R50x1+ViT-L/32": (False, True, False),
    "R50x1+ViT-L/16": (False, True, False),
}
