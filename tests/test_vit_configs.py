"""The ViT configs (recipe, from scratch, BiT baseline), scripts/lr_grid.py, and a short
fine-tuning run of a tiny ViT on digits through main.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from config import load_config
from scripts import lr_grid

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
    [*REPO.glob("configs/vit_*.yaml"), *REPO.glob("configs/bit_*.yaml"), *REPO.glob("configs/finetune/**/*.yaml")]
)


def test_there_are_configs_for_every_model_and_dataset():
    names = {p.name for p in CONFIGS}
    for model in ("vit_b16", "vit_l16", "hybrid_r50_b16"):
        for ds in ("cifar10", "cifar100", "oxford_pets", "flowers102"):
            assert f"{model}_{ds}.yaml" in names
            assert f"bit_r50x1_{ds}.yaml" in names
    assert "vit_cifar10_scratch.yaml" in names and "vit_tiny_digits.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_config_loads(path):
    load_config(str(path))


@pytest.mark.parametrize("dataset, steps", [("cifar10", 10000), ("cifar100", 10000), ("oxford_pets", 500),
                                            ("flowers102", 500)])
def test_finetune_recipe(dataset, steps):
    cfg = load_config(str(REPO / f"configs/finetune/vit_b16_{dataset}.yaml"))
    t = cfg.TRAIN
    assert (t.OPTIMIZER, t.MOMENTUM, t.WEIGHT_DECAY, t.CLIP_GRAD, t.LR_SCHEDULER) == ("sgd", 0.9, 0.0, 1.0, "cosine")
    assert t.STEPS == steps and t.WARMUP_STEPS > 0
    assert cfg.DATA.BATCH_SIZE * t.ACCUMULATION_STEPS == 512
    assert cfg.DATA.IMG_SIZE == 384 and list(cfg.DATA.MEAN) == list(cfg.DATA.STD) == [0.5] * 3
    assert load_config(str(REPO / f"configs/finetune/vit_b16_{dataset}_224.yaml")).DATA.IMG_SIZE == 224
    bit = load_config(str(REPO / f"configs/bit_r50x1_{dataset}.yaml"))
    assert (bit.MODEL.NAME, bit.MODEL.TIMM.ARCH, bit.TRAIN.STEPS) == ("timm", "resnetv2_50x1_bit", steps)


def test_lr_grid_dry_run_prints_one_command_per_rate(capsys):
    cfg = "configs/finetune/vit_b16_oxford_pets.yaml"
    assert lr_grid.main(["--cfg", cfg, "--dry-run", "--gpus", "0,1", "--opts", "DATA.BATCH_SIZE", "32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    for line, lr, gpu in zip(lines, ["0.001", "0.003", "0.01", "0.03"], "0101"):
        # runnable from any directory: main.py runs from the repository root, the config by absolute path
        assert line.startswith(f"cd {REPO} && CUDA_VISIBLE_DEVICES={gpu} ") and f"main.py --cfg {REPO / cfg}" in line
        assert f"TRAIN.LR {lr} RUN_NAME vit_b16_oxford_pets_ft384_lr{lr}" in line and "DATA.BATCH_SIZE 32" in line
    assert lr_grid.default_grid("medium_imagenet") == [0.003, 0.01, 0.03, 0.06]


def test_lr_grid_rejects_a_bad_override():
    with pytest.raises(Exception, match="TRAIN.LRR"):
        lr_grid.plan("configs/vit_tiny_digits.yaml", opts=["TRAIN.LRR", "1"])


def test_lr_grid_chooses_on_the_final_weights_val_acc(tmp_path):
    """The grid reports the final weights' test_acc, so it chooses on the same weights' val_acc
    (the last epoch's), not on a better earlier epoch whose weights were never tested."""
    f = tmp_path / "metrics.jsonl"
    f.write_text("\n".join(json.dumps({"epoch": i, "val_acc": a}) for i, a in enumerate([0.2, 0.5, 0.4])))
    assert lr_grid.final_val_accuracy(str(f)) == 0.4
    assert lr_grid.final_val_accuracy(str(tmp_path / "missing.jsonl")) is None


def test_finetuning_tiny_vit_on_digits_improves_accuracy(tmp_path):
    """A tiny ViT checkpoint (8x8 images, 4 classes) fine-tuned on digits at 16x16 with 10 classes:
    the head starts at zero and the position table is resized; accuracy must rise."""
    from models.vit import VisionTransformer

    torch.manual_seed(0)
    ckpt = tmp_path / "tiny_vit_8px_4cls.pth"
    torch.save(VisionTransformer(8, 4, 3, 4, embed_dim=32, depth=2, num_heads=2, mlp_dim=64).state_dict(), ckpt)
    opts = ["MODEL.PRETRAINED", str(ckpt), "OUTPUT", str(tmp_path / "out"), "RUN_NAME", "ft", "DEVICE", "cpu",
            "TRAIN.EPOCHS", "3", "SAVE_FREQ", "100"]
    proc = subprocess.run([sys.executable, "main.py", "--cfg", "configs/vit_tiny_digits.yaml", "--opts", *opts],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # one thread: no oversubscription
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "out" / "ft" / "metrics.jsonl").read_text().splitlines()]
    first, last = rows[0]["val_acc"], rows[-1]["val_acc"]
    assert len(rows) == 3 and last > first and last > 0.25, f"val_acc per epoch: {[r['val_acc'] for r in rows]}"
