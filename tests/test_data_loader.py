"""Transforms, mixup, the loaders of build_loader and the distributed samplers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
from timm.data import Mixup
from torch.utils.data import DistributedSampler
from torchvision.transforms import v2

from data.base import TransformedDataset, collate
from data.build import build_dataset, build_loader, build_transform
from data.device import to_device
from data.samplers import ShardedEvalSampler
from data.transforms import ToFloatNormalize, is_batchable, resolve_mean_std
from tests.data_fixtures import make_cfg, make_h5

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _image(seed: int = 0, h: int = 20, w: int = 24) -> torch.Tensor:
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# --- transforms ------------------------------------------------------------------------------------

def test_eval_transform_is_resize_center_crop_normalize():
    cfg = make_cfg(DATA__IMG_SIZE=16)
    transform = build_transform(cfg, train=False, mean=MEAN, std=STD)
    image = _image()
    out = transform(image)
    expected = v2.Compose([v2.Resize(16, antialias=True), v2.CenterCrop(16), v2.ToDtype(torch.float32, scale=True),
                           v2.Normalize(MEAN, STD)])(image)
    assert type(out) is torch.Tensor and out.shape == (3, 16, 16)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5, msg="eval transform vs torchvision reference")
    assert is_batchable(transform)
    batch = torch.stack([image, _image(1)])  # [2, 3, 20, 24]
    torch.testing.assert_close(transform(batch)[1], transform(_image(1)), rtol=0, atol=1e-5, msg="batch vs single")


def test_to_float_normalize_matches_torchvision_and_accepts_pil_and_float():
    image = _image()
    reference = v2.Normalize(MEAN, STD)(v2.ToDtype(torch.float32, scale=True)(image))
    step = ToFloatNormalize(MEAN, STD)
    torch.testing.assert_close(step(image), reference, rtol=0, atol=1e-5, msg="uint8 path")
    torch.testing.assert_close(step(image.float() / 255), reference, rtol=0, atol=1e-5, msg="float path")
    out = torch.empty(3, 20, 24)
    assert step(image, out=out) is out
    pil = v2.ToPILImage()(image)
    transform = build_transform(make_cfg(DATA__IMG_SIZE=20), train=False, mean=MEAN, std=STD)
    assert transform(pil).shape == (3, 20, 20)


def test_train_transform_with_every_augmentation():
    cfg = make_cfg(DATA__IMG_SIZE=16, AUG__RANDOM_CROP_PADDING=2, AUG__HFLIP=0.5, AUG__COLOR_JITTER=0.4,
                   AUG__RAND_AUGMENT="rand-m9-mstd0.5-inc1", AUG__RANDOM_ERASE=0.5)
    transform = build_transform(cfg, train=True, mean=MEAN, std=STD)
    names = [type(t).__name__ for t in transform.transforms]
    expected = ("RandomCrop", "RandomHorizontalFlip", "ColorJitter", "RandAugment", "ToFloatNormalize", "RandomErasing")
    for step in expected:
        assert step in names, f"{step} missing from {names}"
    assert not is_batchable(transform)
    torch.manual_seed(0)
    outs = [transform(_image()) for _ in range(2)]
    assert all(o.shape == (3, 16, 16) and o.dtype == torch.float32 for o in outs)
    assert not torch.equal(outs[0], outs[1]), "two draws of the augmenting transform should differ"
    rrc = build_transform(make_cfg(DATA__IMG_SIZE=12, AUG__RANDOM_RESIZED_CROP=True), train=True, mean=MEAN, std=STD)
    assert type(rrc.transforms[1]).__name__ == "RandomResizedCrop" and rrc(_image()).shape == (3, 12, 12)


def test_train_transform_without_augmentation_equals_eval():
    cfg = make_cfg(DATA__IMG_SIZE=16)
    train, val = (build_transform(cfg, t, MEAN, STD) for t in (True, False))
    torch.testing.assert_close(train(_image()), val(_image()), rtol=0, atol=0)


def test_mean_std_override_and_errors():
    assert resolve_mean_std(make_cfg(), MEAN, STD) == (list(MEAN), list(STD))
    cfg = make_cfg(DATA__MEAN=[0.1, 0.2, 0.3], DATA__STD=[1.0, 1.0, 1.0])
    assert resolve_mean_std(cfg, MEAN, STD) == ([0.1, 0.2, 0.3], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"DATA.MEAN \[0.5\] must hold 3 per-channel values"):
        resolve_mean_std(make_cfg(DATA__MEAN=[0.5]), MEAN, STD)
    with pytest.raises(ValueError, match=r"DATA.STD .* all > 0"):
        resolve_mean_std(make_cfg(DATA__STD=[0.0, 1.0, 1.0]), MEAN, STD)
    with pytest.raises(ValueError, match=r"DATA.INTERPOLATION 'lanczos' is not supported; use one of bilinear"):
        build_transform(make_cfg(DATA__INTERPOLATION="lanczos"), False, MEAN, STD)
    image, _ = build_dataset(make_cfg(DATA__MEAN=[0.0] * 3, DATA__STD=[1.0] * 3), "val")[0]
    assert image.min() >= 0 and image.max() <= 1, "mean 0 / std 1 keeps pixels in 0..1"


# --- loaders ---------------------------------------------------------------------------------------

def _labels(loader) -> list[int]:
    return torch.cat([y for _, y in loader]).tolist()


def test_digits_bundle_shapes_and_options():
    bundle = build_loader(make_cfg(DATA__BATCH_SIZE=64))
    assert bundle.num_classes == 10 and bundle.class_names[3] == "3"
    assert bundle.mixup_fn is None and bundle.train_sampler is None
    assert bundle.train.batch_size == 64 and bundle.val.batch_size == 128 and bundle.test.batch_size == 128
    assert not bundle.train.drop_last and bundle.train.pin_memory == torch.cuda.is_available()
    assert bundle.train.persistent_workers is False and bundle.train.num_workers == 0
    images, labels = next(iter(bundle.train))
    assert images.shape == (64, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert to_device(images, "cpu", bundle.train).dtype == torch.float32, "normalized on the device"
    assert _labels(bundle.val) == bundle.val.dataset.source.labels.tolist(), "val keeps its order"
    assert _labels(bundle.test) == bundle.test.dataset.source.labels.tolist(), "test keeps its order"
    assert build_loader(make_cfg(DATA__BATCH_SIZE=64, DATA__EVAL_BATCH_SIZE=50)).val.batch_size == 50


def test_train_batches_repeat_with_the_seed():
    first = [_labels(build_loader(make_cfg(SEED=7)).train) for _ in range(2)]
    other = _labels(build_loader(make_cfg(SEED=8)).train)
    assert first[0] == first[1], "same SEED, NUM_WORKERS 0: same batches"
    assert first[0] != other and sorted(first[0]) == sorted(other)


def test_mixup_fn_from_config():
    cfg = make_cfg(AUG__MIXUP=0.8, AUG__CUTMIX=1.0, TRAIN__LABEL_SMOOTHING=0.1, DATA__BATCH_SIZE=100)
    bundle = build_loader(cfg)
    assert isinstance(bundle.mixup_fn, Mixup) and bundle.train.drop_last
    assert bundle.mixup_fn.mixup_alpha == 0.8 and bundle.mixup_fn.cutmix_alpha == 1.0
    assert bundle.mixup_fn.label_smoothing == 0.1 and bundle.mixup_fn.num_classes == 10
    images, labels = next(iter(bundle.train))
    images = to_device(images, "cpu", bundle.train)  # timm's Mixup mixes float images, as in main.py
    mixed, targets = bundle.mixup_fn(images, labels)
    assert mixed.shape == images.shape and targets.shape == (100, 10)
    torch.testing.assert_close(targets.sum(1), torch.ones(100), msg="soft targets sum to 1")
    assert len(bundle.train) == len(bundle.train.dataset) // 100
    with pytest.raises(ValueError, match=r"even DATA.BATCH_SIZE .* got 63"):
        build_loader(make_cfg(AUG__MIXUP=0.2, DATA__BATCH_SIZE=63))
    with pytest.raises(ValueError, match=r"fewer than one batch .* lower DATA.BATCH_SIZE"):
        build_loader(make_cfg(AUG__CUTMIX=1.0, DATA__BATCH_SIZE=4000))


def test_loader_option_errors():
    with pytest.raises(ValueError, match=r"DATA.NUM_WORKERS -1 must be >= 0"):
        build_loader(make_cfg(DATA__NUM_WORKERS=-1))
    with pytest.raises(ValueError, match=r"DATA.BATCH_SIZE 0"):
        build_loader(make_cfg(DATA__BATCH_SIZE=0))


def test_collate_of_stacked_and_plain_batches(tmp_path):
    dataset = build_dataset(make_cfg(DATA__DATASET="medium_imagenet", DATA__ROOT=make_h5(str(tmp_path / "m.h5")),
                                     DATA__IMG_SIZE=8), "val")
    assert isinstance(dataset, TransformedDataset)
    stacked = dataset.__getitems__([2, 0, 4])
    images, labels = collate(stacked)
    assert images.data_ptr() == stacked.images.data_ptr(), "a stacked batch is handed over without a copy"
    plain_images, plain_labels = torch.utils.data.default_collate(stacked)  # also a plain list of samples
    assert torch.equal(images, plain_images) and torch.equal(labels, plain_labels)


# --- distributed -----------------------------------------------------------------------------------

def test_sharded_eval_sampler_partitions_in_order():
    n, world = 10, 3
    parts = [list(ShardedEvalSampler(n, rank=r, world_size=world)) for r in range(world)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [len(ShardedEvalSampler(n, r, world)) for r in range(world)] == [4, 3, 3]
    out = np.empty(n, dtype=int)
    for r, part in enumerate(parts):
        out[r::world] = part
    assert out.tolist() == list(range(n)), "out[r::world] = part_r restores the order"
    with pytest.raises(ValueError, match=r"rank 3 is outside \[0, 3\)"):
        ShardedEvalSampler(n, rank=3, world_size=3)


def test_build_loader_distributed(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        bundle = build_loader(make_cfg(SEED=5), distributed=True)
    finally:
        dist.destroy_process_group()
    assert isinstance(bundle.train_sampler, DistributedSampler) and bundle.train.sampler is bundle.train_sampler
    assert bundle.train_sampler.shuffle and bundle.train_sampler.seed == 5
    assert isinstance(bundle.val.sampler, ShardedEvalSampler) and isinstance(bundle.test.sampler, ShardedEvalSampler)
    assert _labels(bundle.test) == bundle.test.dataset.source.labels.tolist()
