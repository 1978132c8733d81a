"""Datasets and loaders from the config: ``build_dataset``, ``build_loader``, ``build_transform``.

Adding a dataset
----------------
Register a factory ``(cfg, split) -> SourceSplit`` (``data/base.py``) for ``split`` in
{"train", "val", "test"}::

    from data.base import SourceSplit, pick_holdout
    from data.registry import register_dataset

    @register_dataset("my_data")
    def my_data(cfg, split):
        items = ...  # a Dataset of (PIL image or uint8 tensor [3, H, W], int label; -1 if unlabeled)
        return SourceSplit(items, class_names, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))

``SourceSplit.data`` yields raw images; ``build_dataset`` adds the config's transform (resize to
``DATA.IMG_SIZE``, augmentation on train, normalization with ``mean``/``std`` unless ``DATA.MEAN``/
``DATA.STD`` override them; ``build_loader``'s loaders leave the normalization to the device, see
``data/device.py``). Where the source has no val split, hold one out of train with
``pick_holdout(split, n, cfg.DATA.VAL_SIZE, cfg.DATA.SPLIT_SEED)``. Missing files raise
``data.base.not_found(...)`` (a ``DatasetNotFoundError``) naming the path and what to put there.
A source may also offer ``get_batch(indices) -> (uint8 [B, 3, H, W], labels)`` (a new tensor) for
fast batched reads.

The module that registers a factory must be imported below (``data.datasets``,
``data.medium_imagenet`` and, when present, ``data.research_datasets``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler
from yacs.config import CfgNode

import data.datasets  # noqa: F401  (registers cifar10, cifar100, oxford_pets, flowers102, digits)
import data.medium_imagenet  # noqa: F401  (registers medium_imagenet)
from data.base import SPLITS, TransformedDataset, check_split, collate
from data.device import DeviceNormalize
from data.registry import DATASETS
from data.samplers import EpochSeededDataset, ShardedEvalSampler
from data.transforms import build_mixup, build_transform, is_batchable, resolve_mean_std

try:
    import data.research_datasets  # noqa: F401  (stl10, tiny_imagenet; optional module)
except ModuleNotFoundError as e:
    if e.name != "data.research_datasets":
        raise

__all__ = ["DataBundle", "build_dataset", "build_loader", "build_transform", "set_train_epoch"]


@dataclass
class DataBundle:
    """Everything ``main.py`` needs from the data side.

    The loaders yield ``(images, labels)`` with images uint8 ``[B, 3, S, S]`` (raw pixels; float32
    normalized for train when ``AUG.RANDOM_ERASE`` > 0) and labels int64 ``[B]``;
    ``data.device.to_device(images, device, loader)`` turns the images into the model's input,
    float32 normalized on ``device``.

    Attributes:
        train: shuffled loader; its order comes from ``train.sampler`` (a ``RandomSampler`` with a
            generator of its own, or ``train_sampler``), its augmentation from ``(SEED, epoch,
            batch)`` through ``train.dataset`` (a ``data.samplers.EpochSeededDataset``): call
            :func:`set_train_epoch` before each epoch, and a resumed run sees exactly the batches
            of an uninterrupted one; drops the last partial batch when mixup/cutmix is on.
        val: loader in fixed order.
        test: loader in test-set order (submission Ids 0..N-1); labels -1 when unlabeled.
        num_classes: number of classes.
        class_names: class names, index = label.
        mixup_fn: timm ``Mixup`` or None when ``AUG.MIXUP`` and ``AUG.CUTMIX`` are 0.
        train_sampler: the ``DistributedSampler`` under DDP (call ``set_epoch`` each epoch), else None.
    """

    train: DataLoader
    val: DataLoader
    test: DataLoader
    num_classes: int
    class_names: list[str]
    mixup_fn: Callable | None
    train_sampler: Sampler | None


def build_dataset(cfg: CfgNode, split: str, device_normalize: bool = False) -> Dataset:
    """One split of ``DATA.DATASET`` with the config's transform.

    Args:
        cfg: the run config.
        split: "train" (augmented), "val" or "test".
        device_normalize: leave the float conversion and normalization to the device: items are
            uint8 and the dataset's ``device_transform`` (a ``data.device.DeviceNormalize``,
            channels-last with ``MODEL.CHANNELS_LAST``) finishes a batch of them (what
            ``build_loader`` does; see ``data.device.to_device``). Train items stay float when
            ``AUG.RANDOM_ERASE`` > 0 (timm erases normalized images).

    Returns:
        A Dataset of ``(image float32 [3, IMG_SIZE, IMG_SIZE] normalized, label int)`` (uint8
        raw pixels with ``device_normalize``), with ``classes`` and ``device_transform`` (None
        without ``device_normalize``) attributes. An unknown dataset name raises the registry's
        KeyError.
    """
    check_split(split)
    source = DATASETS.get(cfg.DATA.DATASET)(cfg, split)
    mean, std = resolve_mean_std(cfg, source.mean, source.std)
    transform = build_transform(cfg, split == "train", mean, std, normalize=not device_normalize)
    device_transform = DeviceNormalize(mean, std, channels_last=cfg.MODEL.CHANNELS_LAST) if device_normalize else None
    return TransformedDataset(source, transform, batchable=is_batchable(transform), device_transform=device_transform)


def _loader_options(cfg: CfgNode) -> dict:
    workers = cfg.DATA.NUM_WORKERS
    if workers < 0:
        raise ValueError(f"DATA.NUM_WORKERS {workers} must be >= 0 (0 loads in the main process).")
    return dict(
        num_workers=workers,
        collate_fn=collate,
        pin_memory=cfg.DATA.PIN_MEMORY and torch.cuda.is_available(),
        persistent_workers=cfg.DATA.PERSISTENT_WORKERS and workers > 0,
    )


def build_loader(cfg: CfgNode, distributed: bool = False) -> DataBundle:
    """Train/val/test loaders, class names and mixup for ``cfg``.

    Args:
        cfg: the run config (``DATA.*``, ``AUG.*``, ``SEED``).
        distributed: ``torch.distributed`` is initialized; train uses a ``DistributedSampler``
            (seeded by ``cfg.SEED``), val/test a ``ShardedEvalSampler`` (rank r gets indices
            ``r, r + world, ...``; reassemble with ``out[r::world] = part_r``).
    """
    train_set, val_set, test_set = (build_dataset(cfg, split, device_normalize=True) for split in SPLITS)
    classes = list(train_set.classes)
    mixup_fn = build_mixup(cfg, len(classes))
    batch = cfg.DATA.BATCH_SIZE
    eval_batch = cfg.DATA.EVAL_BATCH_SIZE or 2 * batch
    if batch < 1 or eval_batch < 1:
        raise ValueError(
            f"DATA.BATCH_SIZE {batch} and DATA.EVAL_BATCH_SIZE {cfg.DATA.EVAL_BATCH_SIZE} must be >= 1 "
            f"(EVAL_BATCH_SIZE 0 means 2 x BATCH_SIZE)."
        )
    if mixup_fn is not None and batch % 2:
        raise ValueError(f"AUG.MIXUP/AUG.CUTMIX need an even DATA.BATCH_SIZE (timm mixes pairs); got {batch}.")
    options = _loader_options(cfg)
    generator = torch.Generator().manual_seed(cfg.SEED)
    train_set = EpochSeededDataset(train_set, cfg.SEED)  # augmentation from (SEED, epoch, batch): exact resume
    train_sampler = DistributedSampler(train_set, shuffle=True, seed=cfg.SEED) if distributed else None
    # The order has a generator of its own: the loader's also draws the workers' base seed, once per
    # iterator, which with persistent workers happens in a run's first epoch only (a resume's first
    # epoch would draw it, an uninterrupted run's third would not, and the orders would differ).
    order = train_sampler or RandomSampler(train_set, generator=torch.Generator().manual_seed(cfg.SEED))
    train = DataLoader(train_set, batch, sampler=order, drop_last=mixup_fn is not None, generator=generator, **options)
    if len(train) == 0:
        raise ValueError(
            f"The train split of {cfg.DATA.DATASET!r} has {len(train_set)} images, fewer than one batch of "
            f"DATA.BATCH_SIZE {batch} with the last partial batch dropped (mixup/cutmix); lower DATA.BATCH_SIZE."
        )

    def eval_loader(dataset: Dataset, persistent: bool) -> DataLoader:
        sampler = ShardedEvalSampler(len(dataset)) if distributed else None
        opts = {**options, "persistent_workers": options["persistent_workers"] and persistent}
        return DataLoader(dataset, eval_batch, shuffle=False, sampler=sampler, **opts)

    return DataBundle(
        train=train,
        val=eval_loader(val_set, persistent=True),
        test=eval_loader(test_set, persistent=False),  # used once per run: no idle workers afterwards
        num_classes=len(classes),
        class_names=classes,
        mixup_fn=mixup_fn,
        train_sampler=train_sampler,
    )


def set_train_epoch(bundle: DataBundle, epoch: int, seed: int) -> None:
    """Make the train loader's order and augmentation those of ``epoch`` (0-based), resumed or not.

    Order: ``DistributedSampler.set_epoch`` under DDP, else the sampler's generator re-seeded with
    ``seed + epoch``. Augmentation: ``EpochSeededDataset.set_epoch`` (reaches persistent workers).
    """
    if bundle.train_sampler is not None:
        bundle.train_sampler.set_epoch(epoch)
    elif getattr(bundle.train.sampler, "generator", None) is not None:
        bundle.train.sampler.generator.manual_seed(seed + epoch)
    if hasattr(bundle.train.dataset, "set_epoch"):
        bundle.train.dataset.set_epoch(epoch)
