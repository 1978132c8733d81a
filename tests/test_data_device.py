"""Loader batches travel as uint8 and are normalized on the device (data/device.py): the result
equals the per-image float pipeline's for every dataset path, split and transform."""
from __future__ import annotations

import argparse
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from data.base import collate
from data.build import build_dataset, build_loader
from data.device import DeviceNormalize, to_device
from data.transforms import ToFloatNormalize, build_transform, is_batchable
from tests.data_fixtures import make_cfg, make_cifar10, make_flowers, make_h5, make_pets, skip_md5

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
SIZE = 16
AUGMENT = dict(AUG__RANDOM_CROP_PADDING=2, AUG__HFLIP=0.5, AUG__COLOR_JITTER=0.4, AUG__RAND_AUGMENT="rand-m9-mstd0.5-inc1")


def _pixels(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# --- DeviceNormalize and to_device -----------------------------------------------------------------

def test_device_normalize_equals_the_per_image_step():
    batch = _pixels(4, 3, 20, 24)
    per_image = torch.stack([ToFloatNormalize(MEAN, STD)(image) for image in batch])  # [4, 3, 20, 24]
    normalize = DeviceNormalize(MEAN, STD)
    for name, images in (("NCHW", batch), ("channels-last", batch.contiguous(memory_format=torch.channels_last))):
        out = normalize(images, "cpu")
        assert out.dtype == torch.float32 and out.is_contiguous(), name
        torch.testing.assert_close(out, per_image, rtol=0, atol=1e-6, msg=f"{name} uint8 batch vs per-image step")
    torch.testing.assert_close(normalize(batch[1]), per_image[1], rtol=0, atol=1e-6, msg="single [3, H, W] image")
    expected = (batch.double() / 255 - torch.tensor(MEAN).double().view(3, 1, 1)) / torch.tensor(STD).double().view(3, 1, 1)
    torch.testing.assert_close(normalize(batch).double(), expected, rtol=0, atol=1e-5, msg="vs (x / 255 - mean) / std")


def test_device_normalize_channels_last_and_float_batches():
    batch = _pixels(2, 3, 8, 10)
    out = DeviceNormalize(MEAN, STD, channels_last=True)(batch, "cpu")
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    torch.testing.assert_close(out, DeviceNormalize(MEAN, STD)(batch), rtol=0, atol=0, msg="channels-last values")
    normalized = torch.randn(2, 3, 8, 10)
    assert DeviceNormalize(MEAN, STD)(normalized, "cpu") is normalized, "a float batch is normalized already"
    moved = DeviceNormalize(MEAN, STD, channels_last=True)(normalized, "cpu")
    assert moved.is_contiguous(memory_format=torch.channels_last) and torch.equal(moved, normalized)
    with pytest.raises(TypeError, match=r"uint8 image batch .* got dtype torch.int32"):
        DeviceNormalize(MEAN, STD)(batch.int())
    with pytest.raises(ValueError, match=r"3 means and 3 positive stds"):
        DeviceNormalize(MEAN, (0.2, 0.0, 0.3))


def test_to_device_without_a_normalizer():
    batches = [(torch.randn(2, 3, 4, 4), torch.tensor([0, 1]))]  # a hand-made list of float batches
    images, _ = batches[0]
    assert to_device(images, "cpu", batches) is images, "float batches are moved as they are"
    with pytest.raises(TypeError, match=r"uint8 batch but no loader .* pass the DataLoader"):
        to_device(_pixels(2, 3, 4, 4), "cpu", batches)


def test_transform_without_normalize_stops_at_plain_uint8():
    cfg = make_cfg(DATA__IMG_SIZE=SIZE)
    transform = build_transform(cfg, train=False, mean=MEAN, std=STD, normalize=False)
    out = transform(_pixels(3, 20, 24))
    assert type(out) is torch.Tensor and out.dtype == torch.uint8 and out.shape == (3, SIZE, SIZE)
    torch.testing.assert_close(DeviceNormalize(MEAN, STD)(out), build_transform(cfg, False, MEAN, STD)(_pixels(3, 20, 24)),
                               rtol=0, atol=0, msg="uint8 transform + DeviceNormalize vs the float transform")
    assert is_batchable(transform)
    ends_in_normalize = v2.Compose([v2.ToImage(), v2.Resize(SIZE), v2.ToDtype(torch.float32, scale=True),
                                    v2.Normalize(MEAN, STD)])
    assert not is_batchable(ends_in_normalize), "only ToFloatNormalize or ToPureTensor may end a batched transform"


# --- every dataset path: loader batch normalized on the device == the per-image float pipeline ------

def _digits(tmp_path, monkeypatch, **kw):
    return make_cfg(DATA__IMG_SIZE=SIZE, **kw)


def _cifar10(tmp_path, monkeypatch, **kw):
    skip_md5(monkeypatch)
    make_cifar10(str(tmp_path))
    return make_cfg(DATA__DATASET="cifar10", DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE, DATA__VAL_SIZE=0.2, **kw)


def _pets(tmp_path, monkeypatch, **kw):
    make_pets(str(tmp_path))
    return make_cfg(DATA__DATASET="oxford_pets", DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE, DATA__VAL_SIZE=3.0, **kw)


def _flowers(tmp_path, monkeypatch, **kw):
    skip_md5(monkeypatch)
    make_flowers(str(tmp_path))
    return make_cfg(DATA__DATASET="flowers102", DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE, **kw)


def _medium_imagenet(tmp_path, monkeypatch, **kw):
    path = make_h5(str(tmp_path / "m.h5"), side=20)
    return make_cfg(DATA__DATASET="medium_imagenet", DATA__ROOT=path, DATA__IMG_SIZE=SIZE, **kw)


# digits, CIFAR and HDF5 read whole batches (get_batch); Pets (PIL) and Flowers (decoded JPEGs) read per item
DATASETS = {"digits": _digits, "cifar10": _cifar10, "oxford_pets": _pets, "flowers102": _flowers,
            "medium_imagenet": _medium_imagenet}
TRANSFORMS = {"eval": ("val", {}), "train": ("train", {}), "train-augmented": ("train", AUGMENT),
              "train-random-resized-crop": ("train", {"AUG__RANDOM_RESIZED_CROP": True, "AUG__HFLIP": 0.5})}


def _seeded(fn):
    """``fn()`` with the global RNGs seeded: torch's, Python's and NumPy's (timm's RandAugment
    draws from the last two)."""
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    return fn()


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_loader_batch_on_device_equals_the_per_image_pipeline(tmp_path, monkeypatch, dataset, transform):
    split, aug = TRANSFORMS[transform]
    cfg = DATASETS[dataset](tmp_path, monkeypatch, **aug)
    reference = build_dataset(cfg, split)  # per image: transform + ToFloatNormalize on the CPU
    raw = build_dataset(cfg, split, device_normalize=True)
    assert reference.device_transform is None and isinstance(raw.device_transform, DeviceNormalize)
    indices = [2, 0, 1, 2]  # out of order, with a repeat
    expected = _seeded(lambda: torch.stack([reference[i][0] for i in indices]))  # float32 [4, 3, S, S]
    loader = DataLoader(raw, batch_size=len(indices), sampler=indices, collate_fn=collate)
    batches = iter(loader)  # (creating the iterator draws a seed from torch's RNG)
    images, labels = _seeded(lambda: next(batches))
    assert images.dtype == torch.uint8 and images.shape == (4, 3, SIZE, SIZE), (images.dtype, images.shape)
    assert labels.tolist() == [reference[i][1] for i in indices]
    out = to_device(images, "cpu", loader)
    assert out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5, msg=f"{dataset} {transform}: device-normalized "
                               f"uint8 batch vs the per-image float pipeline")


def test_random_erasing_keeps_train_batches_float(tmp_path, monkeypatch):
    cfg = _digits(tmp_path, monkeypatch, AUG__RANDOM_ERASE=1.0, AUG__HFLIP=0.5)
    reference, raw = build_dataset(cfg, "train"), build_dataset(cfg, "train", device_normalize=True)
    expected = _seeded(lambda: torch.stack([reference[i][0] for i in (3, 1)]))
    images, _ = collate(_seeded(lambda: raw.__getitems__([3, 1])))
    assert images.dtype == torch.float32, "timm's RandomErasing works on normalized images in the workers"
    torch.testing.assert_close(raw.device_transform(images, "cpu"), expected, rtol=0, atol=0, msg="erased batch")
    assert build_dataset(cfg, "val", device_normalize=True)[0][0].dtype == torch.uint8, "eval has no erasing"


def test_build_loader_hands_over_uint8_and_workers_keep_it_exact(tmp_path):
    path = make_h5(str(tmp_path / "m.h5"), sizes=(12, 10, 5), side=20)
    cfg = make_cfg(DATA__DATASET="medium_imagenet", DATA__ROOT=path, DATA__IMG_SIZE=SIZE, DATA__NUM_WORKERS=2,
                   DATA__BATCH_SIZE=2, DATA__EVAL_BATCH_SIZE=4, DATA__PERSISTENT_WORKERS=False,
                   MODEL__CHANNELS_LAST=True, DATA__MEAN=[0.1, 0.2, 0.3], DATA__STD=[0.5, 0.6, 0.7])
    bundle = build_loader(cfg)
    reference = build_dataset(cfg, "val")
    expected = torch.stack([reference[i][0] for i in range(len(reference))])  # [10, 3, S, S]
    batches = [(to_device(images, "cpu", bundle.val), images.dtype) for images, _ in bundle.val]  # 4 + 4 + 2
    assert [dtype for _, dtype in batches] == [torch.uint8] * 3
    out = torch.cat([images for images, _ in batches])
    assert all(images.is_contiguous(memory_format=torch.channels_last) for images, _ in batches), "MODEL.CHANNELS_LAST"
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5, msg="val through 2 workers vs per-image pipeline")


def test_main_predict_and_train_take_uint8_loaders_and_float_lists():
    from main import TrainState, predict, train_one_epoch
    from models.build import build_model

    cfg = make_cfg(DATA__IMG_SIZE=32, DATA__BATCH_SIZE=64, MODEL__NAME="lenet", PROGRESS=False, PRINT_FREQ=0)
    bundle = build_loader(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, bundle.num_classes)
    logits, labels = predict(model, bundle.val, cfg, torch.device("cpu"), "val")
    reference = build_dataset(cfg, "val")
    with torch.no_grad():
        expected = model(torch.stack([reference[i][0] for i in range(len(reference))]))
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5, msg="predict on a uint8 loader")
    assert labels.tolist() == reference.source.labels.tolist()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = type("NoSchedule", (), {"step_update": lambda self, step: None})()
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    for loader in (bundle.train, [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))] * 2):
        state = TrainState()
        stats = train_one_epoch(model, loader, optimizer, scheduler, scaler, None, cfg, torch.device("cpu"), state,
                                max_steps=3, log=lambda *_: None)
        assert state.step == min(3, len(loader)) and stats["train_loss"] > 0


def test_bench_loader_runs_every_size_and_checks_its_arguments(capsys):
    from bench import bench_loader

    results = bench_loader.main(["--sizes", "12:8,8:16", "--images", "24", "--batch-size", "4", "--workers", "0",
                                 "--repeats", "1", "--device", "cpu"])
    assert list(results) == ["12->8", "8->16"]
    assert all(r[key] > 0 for r in results.values() for key in ("ours_img_s", "naive_img_s", "ratio"))
    assert all(isinstance(r["cpu_ratio"], float) for r in results.values()), "NaN when a pass is too short to time"
    out = capsys.readouterr().out
    assert "12->8" in out and "8->16" in out and "load average" in out
    assert bench_loader.parse_sizes("96:64,96:192") == [(96, 64), (96, 192)]
    for bad in ("96", "96:0", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError, match=rf"--sizes '{bad}': give SIDE:IMG_SIZE pairs"):
            bench_loader.parse_sizes(bad)
