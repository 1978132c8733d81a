"""What every registered dataset returns, the errors for missing or malformed data, and helpers.

A dataset factory is a function ``(cfg, split) -> SourceSplit`` registered with
``@register_dataset("name")`` (see ``data/build.py``). Its items are raw images: PIL images or
uint8 tensors ``[3, H, W]``; ``build_dataset`` adds the config's transform on top.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset, default_collate, get_worker_info

from data.transforms import ToFloatNormalize

SPLITS = ("train", "val", "test")


class DatasetError(Exception):
    """Base class of the data errors below, so a caller can catch both with one clause."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset's files are missing or unreadable; the message says what to put where."""


class DatasetFormatError(DatasetError, ValueError):
    """The dataset's files exist but do not follow the expected format (keys, shapes, dtypes)."""


class SplitSizeError(DatasetError, ValueError):
    """``DATA.VAL_SIZE`` leaves train or val empty for this dataset's size (known only once it is read)."""


def not_found(dataset: str, path: str, expected: str, can_download: bool, cause: str = "") -> DatasetNotFoundError:
    """Build the one error raised when a dataset's files are missing.

    Args:
        dataset: the registry name (``DATA.DATASET``).
        path: the exact path that was looked at.
        expected: what files the user should put there.
        can_download: whether torchvision can fetch it (then the message suggests DATA.DOWNLOAD True).
        cause: optional detail from the underlying library.
    """
    fix = (
        f"Put them there, point DATA.ROOT at the folder that holds them, or set DATA.DOWNLOAD True "
        f"to let torchvision download them."
        if can_download
        else "Put them there or point DATA.ROOT at them (this dataset cannot be downloaded automatically)."
    )
    detail = f" ({cause})" if cause else ""
    return DatasetNotFoundError(
        f"Dataset {dataset!r} not found at {os.path.abspath(path)!r}{detail}. Expected: {expected}. {fix}"
    )


@dataclass
class SourceSplit:
    """One split of a dataset as a registered factory returns it.

    Attributes:
        data: items ``(image, label)``; image a PIL image or a uint8 tensor ``[3, H, W]``,
            label an int in ``[0, len(classes))`` or -1 when the split is unlabeled.
        classes: class names, index = label.
        mean: the dataset's default per-channel normalization mean (of pixel values in 0..1).
        std: the dataset's default per-channel normalization std.
    """

    data: Dataset
    classes: list[str]
    mean: Sequence[float]
    std: Sequence[float]


def check_split(split: str) -> None:
    """Raise a ValueError naming ``split`` unless it is one of train, val, test."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")


def holdout_count(n: int, val_size: float) -> int:
    """Number of items of ``n`` held out for validation (``DATA.VAL_SIZE``: fraction < 1 or count).

    Args:
        n: items in the source split.
        val_size: a fraction in (0, 1) or a whole count in [1, n).
    """
    count = round(n * val_size) if val_size < 1 else int(val_size)
    if val_size <= 0 or (val_size >= 1 and val_size != int(val_size)) or not 0 < count < n:
        raise SplitSizeError(
            f"DATA.VAL_SIZE {val_size!r} gives {count} validation items out of {n}; it must be a "
            f"fraction in (0, 1) or a whole count in [1, {n - 1}] so that both train and val are non-empty."
        )
    return count


def holdout_indices(n: int, val_size: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded train/val partition of ``range(n)``; both index lists are sorted.

    Args:
        n: items in the source split.
        val_size: ``DATA.VAL_SIZE`` (fraction < 1 or count).
        seed: ``DATA.SPLIT_SEED``; the same seed always gives the same partition.
    """
    count = holdout_count(n, val_size)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val = sorted(perm[:count].tolist())
    train = sorted(perm[count:].tolist())
    return train, val


def pick_holdout(split: str, n: int, val_size: float, seed: int) -> list[int]:
    """Indices of ``split`` ("train" or "val") in a source split that has no val part of its own."""
    train, val = holdout_indices(n, val_size, seed)
    return train if split == "train" else val


class TensorImageDataset(Dataset):
    """Images held in memory as one uint8 tensor ``[N, 3, H, W]`` with int labels.

    Args:
        images: uint8 tensor [N, 3, H, W].
        labels: int64 tensor [N] (-1 for unlabeled items).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        assert images.dtype == torch.uint8 and images.ndim == 4 and len(images) == len(labels)
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, list[int]]:
        """Images ``[B, 3, H, W]`` (uint8, a new tensor) and labels of ``indices`` in one read."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.images[index], self.labels[index].tolist()


class StackedSamples(list):
    """A batch's ``(image, label)`` samples that also carry the batch already stacked.

    ``collate`` returns ``[images, labels]`` without copying; ``default_collate`` still works on
    it as a plain list of samples.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__(zip(images, labels.tolist()))
        self.images, self.labels = images, labels


def collate(samples: list) -> list:
    """``default_collate``, except for a ``StackedSamples`` batch, which is already stacked."""
    if isinstance(samples, StackedSamples):
        return [samples.images, samples.labels]
    return default_collate(samples)


def _batch_buffer(shape: torch.Size) -> torch.Tensor:
    """An empty float32 tensor; in a DataLoader worker, in shared memory (as default_collate does)."""
    if get_worker_info() is None:
        return torch.empty(shape, dtype=torch.float32)
    storage = torch.empty(0)._typed_storage()._new_shared(math.prod(shape), device="cpu")
    return torch.empty(0).new(storage).view(shape)


class TransformedDataset(Dataset):
    """A source split with the config's transform applied; items ``(image [3, H, W], int)``.

    The image is what ``transform`` returns: float32 normalized, or uint8 when the transform
    leaves the normalization to the device (``build_dataset(..., device_normalize=True)``; then
    ``device_transform`` is the ``data.device.DeviceNormalize`` that finishes a batch there).

    When the source can read a whole batch at once (``get_batch``), ``__getitems__`` (which
    DataLoader calls with a batch's indices) reads the batch in one go. When, in addition, the
    transform has no random step (``batchable``), it resizes the uint8 batch at once and hands it
    over stacked: uint8 as it is, or normalized straight into the batch tensor the loader hands over.

    Args:
        source: the registered factory's ``SourceSplit``.
        transform: image -> image tensor (``data.transforms.build_transform``).
        batchable: the transform may be applied to a uint8 batch ``[B, 3, H, W]`` at once.
        device_transform: the step that finishes a uint8 batch on the device, or None.
    """

    def __init__(self, source: SourceSplit, transform: Callable, batchable: bool = False,
                 device_transform: Callable | None = None) -> None:
        self.source = source.data
        self.classes = source.classes
        self.transform = transform
        self.batchable = batchable
        self.device_transform = device_transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.source[index]
        return self.transform(image), int(label)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int]]:
        if not hasattr(self.source, "get_batch"):
            return [self[i] for i in indices]
        images, labels = self.source.get_batch(indices)  # uint8 [B, 3, H, W]
        if not self.batchable:
            return [(self.transform(img), int(lab)) for img, lab in zip(images, labels)]
        *geometry, last = self.transform.transforms
        images = images.contiguous(memory_format=torch.channels_last)  # uint8 resizing is fastest channels-last
        for step in geometry:
            images = step(images)  # uint8 [B, 3, S, S]
        labels = torch.as_tensor(labels, dtype=torch.long)
        if not isinstance(last, ToFloatNormalize):  # ToPureTensor: uint8 out, the device normalizes
            # a fresh tensor (get_batch's contract); DataLoader moves it to shared memory as it is
            return StackedSamples(last(images).as_subclass(torch.Tensor), labels)
        out = last(images, out=_batch_buffer(images.shape))  # float32 [B, 3, S, S]
        return StackedSamples(out, labels)
