"""The worksheet's key cannot drift from the code: every number that follows from the code is
recomputed here from the models, the config and the data code, and names the key mentions exist."""
from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from autograder import worksheet as ws
from tests.worksheet_fixtures import staff_text  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

# The paper's ViT sizes: (embed_dim, depth, num_heads, mlp_dim)
VIT_SIZES = {"B": (768, 12, 12, 3072), "L": (1024, 24, 16, 4096), "H": (1280, 32, 16, 5120)}


@pytest.fixture(scope="module")
def key():
    return ws.load_key()[0]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def registry_model(name: str, num_classes: int) -> nn.Module:
    """A model from the registry, as main.py builds it, on the meta device (no memory, no time)."""
    from config import load_config
    from models.build import build_model

    cfg = load_config(None, ["MODEL.NAME", name])
    with torch.device("meta"):
        return build_model(cfg, num_classes)


def vit(size: str, patch: int, img: int, num_classes: int = 1000) -> nn.Module:
    from models.vit import VisionTransformer

    d, depth, heads, mlp = VIT_SIZES[size]
    with torch.device("meta"):
        return VisionTransformer(img_size=img, patch_size=patch, num_classes=num_classes, embed_dim=d,
                                 depth=depth, num_heads=heads, mlp_dim=mlp)


def tokens(model: nn.Module) -> int:
    return model.encoder.pos_embed.pos_embedding.shape[1]


def conv_side() -> int:
    conv = nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2, device="meta")
    return conv(torch.empty(1, 3, 224, 224, device="meta")).shape[-1]


def cifar_train_left() -> int:
    from config import load_config
    from data.base import holdout_count

    return 50_000 - holdout_count(50_000, load_config().DATA.VAL_SIZE)


def alexnet_flatten() -> int:
    first_linear = next(m for m in registry_model("alexnet", 200).modules() if isinstance(m, nn.Linear))
    return first_linear.in_features


def resnet_pool_side() -> int:
    model = registry_model("resnet18", 10)
    pools = [m for m in model.modules() if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AvgPool2d))]
    assert len(pools) == 1, "ResNet-18 should have one global pool"
    seen = {}

    def record(module, inputs, output) -> None:
        seen["shape"] = inputs[0].shape  # (B, C, H, W) entering the pool

    pools[0].register_forward_hook(record)
    model(torch.empty(2, 3, 32, 32, device="meta"))
    return seen["shape"][-1]


def vit_b16_gmacs() -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = vit("B", 16, 224)
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.empty(1, 3, 224, 224, device="meta"))
    return counter.get_total_flops() / 2  # FlopCounterMode counts a multiply-add as 2


def attention_entries() -> int:
    model = vit("B", 16, 224)
    return model.encoder.layers[0].attn.num_heads * tokens(model) ** 2


def medium_imagenet_test_label() -> int:
    """The label the MediumImageNet dataset gives a test image of a file without ``labels-test``."""
    import tempfile

    from data.medium_imagenet import HDF5ImageDataset
    from tests.data_fixtures import make_h5

    with tempfile.TemporaryDirectory() as tmp:
        path = make_h5(f"{tmp}/medium.h5", labels_test=False)
        return int(HDF5ImageDataset(path, "test")[0][1])


def lenet_weight_layers() -> int:
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in registry_model("lenet", 200).modules())


# question id -> the value the code gives (what a correct student would write)
FROM_CODE = {
    "q0.5": conv_side,
    "q2.2": cifar_train_left,
    "q2.7": lambda: 1_500_000 * 3 * 96 * 96,
    "q3.2": lambda: n_params(registry_model("lenet", 200)),
    "q3.3": alexnet_flatten,
    "q3.4": lambda: n_params(registry_model("alexnet", 200)),
    "q3.5": lambda: n_params(registry_model("resnet18", 10)),
    "q3.6": lambda: n_params(registry_model("resnet18", 200)),
    "q3.7": lambda: 4 * n_params(registry_model("alexnet", 200)),
    "q3.8": lambda: 16 * n_params(registry_model("alexnet", 200)),
    "q7.2": resnet_pool_side,
    "q9.1": lambda: tokens(vit("B", 16, 224)),
    "q9.2": lambda: tokens(vit("B", 16, 384)),
    "q9.3": lambda: n_params(vit("B", 16, 224)),
    "q9.4": lambda: n_params(vit("L", 16, 224)),
    "q9.5": lambda: n_params(vit("H", 14, 224)),
    "q9.6": lambda: vit("B", 16, 384).encoder.pos_embed.pos_embedding.numel(),
    "q9.7": vit_b16_gmacs,
    "q9.12": attention_entries,
    "q9.13": lambda: (tokens(vit("B", 16, 384)) / tokens(vit("B", 16, 224))) ** 2,
    "q2.15": lambda: 1_500_000 * 3 * 224 * 224 * torch.uint8.itemsize,
    "q2.16": medium_imagenet_test_label,
    "q3.11": lenet_weight_layers,
}
EXACT = {"q0.5", "q2.2", "q3.2", "q3.3", "q3.4", "q3.5", "q3.6", "q7.2", "q9.1", "q9.2", "q9.3", "q9.4", "q9.5",
         "q9.6", "q9.12", "q2.16", "q3.11"}  # counts the key states exactly, not rounded


def test_every_code_derived_question_is_checked(key):
    marked = {q for q, k in key.items() if k.spec.get("from_code")}
    assert marked == set(FROM_CODE), "rubric 'from_code' entries and the checks here must list the same questions"
    assert EXACT <= marked


@pytest.mark.parametrize("qid", sorted(FROM_CODE))
def test_key_matches_code(key, qid):
    q = key[qid]
    value = FROM_CODE[qid]()
    assert q.expected is not None, f"{qid} has no expected number"
    if qid in EXACT:
        assert q.expected == value, f"{qid}: WORKSHEET.md says {q.expected}, the code gives {value}"
    # the code's value, written plainly by a student, gets full marks
    grade = ws.grade_answer(q, ws.Answer(qid, f"{value:.10g}" + (" bytes" if q.spec.get("unit") == "bytes" else ""), "markers"))
    assert grade.score == q.points, f"{qid}: the code gives {value}, the key {q.expected} ({grade.key})"


def test_paper_table_matches_the_vit_sizes():
    """The paper's rounded sizes (86M, 307M, 632M) agree with our builds at 224 and 1000 classes."""
    for size, patch, paper in [("B", 16, 86e6), ("L", 16, 307e6), ("H", 14, 632e6)]:
        assert math.isclose(n_params(vit(size, patch, 224)), paper, rel_tol=0.015), size


def test_fine_tuning_arithmetic(key):
    steps = {"imagenet": 20_000, "cifar100": 10_000, "cifar10": 10_000, "pets": 500, "flowers": 500}
    batch, rates = key["q10.2"].expected, 4
    assert key["q10.5"].expected == steps["cifar10"] * batch
    assert key["q10.6"].expected == pytest.approx(steps["cifar10"] * batch / 50_000)
    assert key["q10.7"].expected == rates * sum(steps.values())
    assert key["q4.2"].expected == 128 * 4 * 2


def test_names_in_the_key_exist_in_the_code(key):
    """Config keys, registry decorators, files and functions named by reference answers exist."""
    import main
    from config import get_defaults
    from data import registry as data_registry
    from models import registry as model_registry

    cfg = get_defaults()
    for dotted in ("MODEL.NAME", "DATA.DATASET", "TRAIN.LR", "TRAIN.CLIP_GRAD", "TRAIN.STEPS", "TRAIN.WARMUP_STEPS",
                   "TRAIN.LR_SCHEDULER", "TRAIN.OPTIMIZER", "TRAIN.MOMENTUM", "AUG.MIXUP", "AUG.CUTMIX",
                   "DATA.VAL_SIZE", "DATA.CLASS_NAMES", "MODEL.PRETRAINED", "WANDB.ENABLED", "TRAIN.AMP"):
        node = cfg
        for part in dotted.split("."):
            assert part in node, f"config key {dotted} named in WORKSHEET.md is gone"
            node = node[part]
    assert hasattr(model_registry, "register_model") and hasattr(data_registry, "register_dataset")
    for fn in ("main", "train_one_epoch", "validate", "evaluate", "throughput"):
        assert inspect.isfunction(getattr(main, fn, None)), f"main.{fn} named in WORKSHEET.md is gone"
    for cfg_file in ("lenet_digits", "lenet_cifar10", "alexnet_cifar10", "resnet18_cifar10", "resnet34_cifar100",
                     "alexnet_medium_imagenet", "resnet18_medium_imagenet"):
        assert (REPO / "configs" / f"{cfg_file}.yaml").is_file(), f"configs/{cfg_file}.yaml named in q4.1 is gone"
    assert "--opts" in inspect.getsource(__import__("config").add_config_args)
    hdf5 = (REPO / "data" / "medium_imagenet.py").read_text()
    assert "labels-train" in hdf5 and "labels-val" in hdf5 and "-1" in hdf5


def test_submission_header_matches_the_writer(key, tmp_path):
    from engine.submission import write_submission

    write_submission(str(tmp_path / "s.csv"), [0, 1], num_classes=2)
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header in key["q8.1"].reference


# -------------------------------------------------------------------------------------------
# The rubric's own checks
# -------------------------------------------------------------------------------------------

def test_ids_are_unique_and_the_rubric_matches(staff_text, key):
    ids = re.findall(r"<!-- answer (q[\w.]+) -->", staff_text)
    assert len(ids) == len(set(ids)) == len(key)
    kinds = {q.kind for q in key.values()}
    assert kinds == set(ws.KINDS)


def test_rubric_errors_name_the_question(tmp_path):
    with pytest.raises(ws.WorksheetError, match="q1.*kind"):
        ws.check_rubric({"questions": {"q1": {"kind": "essay", "points": 1}}})
    with pytest.raises(ws.WorksheetError, match="q2.*add up"):
        ws.check_rubric({"questions": {"q2": {"kind": "short", "points": 2, "patterns": [{"re": "a", "points": 1}]}}})
    with pytest.raises(ws.WorksheetError, match="q3.*regular expression"):
        ws.check_rubric({"questions": {"q3": {"kind": "short", "points": 1, "patterns": [{"re": "(", "points": 1}]}}})
    with pytest.raises(ws.WorksheetError, match="staff-only"):
        ws.load_rubric(tmp_path / "missing.yaml")
    rubric = ws.load_rubric()
    del rubric["questions"]["q0.1"]
    with pytest.raises(ws.WorksheetError, match=r"worksheet only: \['q0.1'\]"):
        ws.load_key(rubric=rubric)
