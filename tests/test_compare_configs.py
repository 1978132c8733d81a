"""Every architecture-comparison config (configs/compare/) builds its model and trains one step on CPU.

Default run: one forward + backward (batch 2, at the config's input size) per distinct model, with
Swin's and TnT's depth cut to one block per stage via --opts (same widths, heads, windows, patch and
input size) to keep the suite fast. The full-depth versions are the `slow` tests.
"""
from __future__ import annotations

import glob
import os

import pytest
import torch
from yacs.config import CfgNode

from config import load_config
from models.build import build_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "configs/compare/*.yaml"))
                 if not os.path.basename(p).startswith("base_"))
NUM_CLASSES = {"cifar10": 10, "stl10": 10, "tiny_imagenet": 200}

# The course report's small-input Swin shapes, per dataset.
SWIN_SHAPES = {
    "cifar10": dict(img_size=32, embed_dim=64, depths=[2, 2, 8, 2], num_heads=[2, 4, 8, 16], patch_size=4, window_size=8),
    "stl10": dict(img_size=96, embed_dim=64, depths=[2, 2, 8, 2], num_heads=[2, 4, 8, 16], patch_size=4, window_size=12),
    "tiny_imagenet": dict(img_size=64, embed_dim=64, depths=[2, 2, 8, 2], num_heads=[2, 4, 8, 16], patch_size=4, window_size=8),
}

# --opts that keep an architecture's widths but cut its depth (name-matched on MODEL.TIMM.ARCH).
SHALLOW = {
    "swin": ["MODEL.TIMM.KWARGS.depths", "[1, 1, 1, 1]"],
    "tnt": ["MODEL.TIMM.KWARGS.depth", "1"],
}


def _load(path: str, opts: list[str] = ()) -> CfgNode:
    return load_config(os.path.join(REPO, path), ["MODEL.PRETRAINED", "", "DATA.ROOT", "/nonexistent", *opts])


def _signature(cfg) -> str:
    """What decides the model's shape apart from the class count."""
    return f"{cfg.MODEL.dump()}|{cfg.DATA.IMG_SIZE}"


def _train_step(cfg, num_classes: int) -> None:
    torch.manual_seed(0)
    model = build_model(cfg, num_classes).train()
    size = cfg.DATA.IMG_SIZE
    x = torch.randn(2, 3, size, size)
    y = torch.tensor([0, num_classes - 1])
    logits = model(x)
    assert logits.shape == (2, num_classes), f"logits {tuple(logits.shape)} for a batch of 2, {num_classes} classes"
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "some parameters got no gradient"
    assert all(torch.isfinite(g).all() for g in grads), "non-finite gradients"


def test_configs_found():
    assert len(CONFIGS) == 21, CONFIGS
    for arch in ("swin", "mixer", "tnt", "perceiver"):
        for ds in NUM_CLASSES:
            assert f"configs/compare/{arch}_{ds}.yaml" in CONFIGS
            if arch != "perceiver":
                assert f"configs/compare/{arch}_ft_{ds}.yaml" in CONFIGS


@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads_with_the_right_dataset(path):
    cfg = _load(path)
    dataset = cfg.DATA.DATASET
    assert dataset in NUM_CLASSES and dataset in path
    if "_ft_" in path:
        assert load_config(os.path.join(REPO, path)).MODEL.PRETRAINED, "a fine-tuning config names its checkpoint"
        assert cfg.DATA.IMG_SIZE == 224


@pytest.mark.parametrize("dataset", sorted(SWIN_SHAPES))
def test_swin_uses_the_report_shapes(dataset):
    cfg = _load(f"configs/compare/swin_{dataset}.yaml")
    kwargs = dict(cfg.MODEL.TIMM.KWARGS)
    assert kwargs == SWIN_SHAPES[dataset]
    assert cfg.DATA.IMG_SIZE == SWIN_SHAPES[dataset]["img_size"]
    assert cfg.TRAIN.LR == pytest.approx(5e-4)


def _light_cases() -> list:
    """One case per distinct model (the class count aside), shallow where SHALLOW says so."""
    seen, cases = set(), []
    for path in CONFIGS:
        cfg = _load(path)
        opts = next((o for k, o in SHALLOW.items() if cfg.MODEL.TIMM.ARCH.startswith(k)), [])
        sig = _signature(cfg)
        if sig in seen:
            continue
        seen.add(sig)
        marks = [pytest.mark.slow] if cfg.MODEL.TIMM.ARCH == "mixer_b16_224" else []  # 60M, depth fixed by timm
        cases.append(pytest.param(path, opts, id=os.path.basename(path)[:-5], marks=marks))
    return cases


@pytest.mark.parametrize("path,opts", _light_cases())
def test_forward_backward(path, opts):
    cfg = _load(path, opts)
    _train_step(cfg, NUM_CLASSES[cfg.DATA.DATASET])


def test_mixer_b16_builds_with_the_dataset_head():
    """Light stand-in for the slow Mixer-B/16 train step: the model builds with the right head."""
    cfg = _load("configs/compare/mixer_ft_tiny_imagenet.yaml")
    model = build_model(cfg, 200)
    assert model.get_classifier().out_features == 200
    assert model.stem.img_size == (224, 224)


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS)
def test_forward_backward_full_depth(path):
    cfg = _load(path)
    _train_step(cfg, NUM_CLASSES[cfg.DATA.DATASET])
