"""``medium_imagenet``: the course's HDF5 dataset (DESIGN.md section 3, a contract).

The file holds ``images-{train,val,test}`` (uint8, ``N x 3 x H x W``), ``labels-train`` and
``labels-val`` (integers) and optionally ``labels-test`` (staff only; without it test labels are -1).

``DATA.ROOT`` is the ``.h5``/``.hdf5`` file itself, or a folder holding exactly one such file (or
exactly one named ``medium-imagenet*``). Class names, one per line, come from ``DATA.CLASS_NAMES``
when set, else from ``class_names.txt``, ``classes.txt`` or ``<file stem>.txt`` beside the file,
else they are ``class_<i>`` with as many classes as the largest train/val label + 1.

Reading is fast: the file is opened lazily once per worker process (h5py handles do not survive a
fork), a batch is read with one h5py call (a slice when its indices are consecutive), resized as one
uint8 batch and handed over uint8; the device converts it to float and normalizes (``data/device.py``).
"""
from __future__ import annotations

import glob
import os
from typing import Sequence

import h5py
import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import Dataset
from yacs.config import CfgNode

from data.base import DatasetFormatError, SourceSplit, check_split, not_found
from data.registry import register_dataset

NAME = "medium_imagenet"
EXPECTED = (
    "an HDF5 file (.h5/.hdf5) with datasets images-train, images-val, images-test "
    "(uint8, N x 3 x H x W) and labels-train, labels-val (integers), optionally labels-test"
)
CLASS_FILES = ("class_names.txt", "classes.txt")


def resolve_file(root: str) -> str:
    """The HDF5 file that ``DATA.ROOT`` names: the file itself, or the only one in that folder.

    Args:
        root: ``DATA.ROOT``.
    """
    if os.path.isfile(root):
        return root
    if os.path.isdir(root):
        found = sorted(glob.glob(os.path.join(root, "*.h5")) + glob.glob(os.path.join(root, "*.hdf5")))
        named = [p for p in found if os.path.basename(p).startswith("medium-imagenet")]
        for group in (found, named):
            if len(group) == 1:
                return group[0]
        if found:
            raise not_found(NAME, root, f"exactly one HDF5 file in the folder, found {len(found)}: "
                            f"{', '.join(map(os.path.basename, found))} (set DATA.ROOT to one of them)", False)
    raise not_found(NAME, root, EXPECTED, False)


def _open(path: str) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DatasetFormatError(
            f"Dataset {NAME!r}: {os.path.abspath(path)!r} is not a readable HDF5 file ({e}). Expected {EXPECTED}."
        ) from e


def _check_images(f: h5py.File, path: str, key: str) -> int:
    """Validate ``images-<split>`` against the contract; return its number of images."""
    if key not in f:
        raise DatasetFormatError(
            f"Dataset {NAME!r}: {os.path.abspath(path)!r} has no dataset {key!r} (it has: "
            f"{', '.join(sorted(f.keys())) or 'nothing'}). Expected {EXPECTED}."
        )
    ds = f[key]
    if ds.dtype != np.uint8 or ds.ndim != 4 or ds.shape[1] != 3:
        raise DatasetFormatError(
            f"Dataset {NAME!r}: {key!r} in {os.path.abspath(path)!r} has dtype {ds.dtype} and shape "
            f"{ds.shape}; the contract is uint8 N x 3 x H x W (channels first). Re-export it that way."
        )
    return ds.shape[0]


def _read_labels(f: h5py.File, path: str, key: str, count: int, required: bool) -> np.ndarray | None:
    """``labels-<split>`` as int64 [N], None when absent and optional."""
    if key not in f:
        if required:
            raise DatasetFormatError(
                f"Dataset {NAME!r}: {os.path.abspath(path)!r} has no dataset {key!r} (it has: "
                f"{', '.join(sorted(f.keys()))}). Train and val labels are required; expected {EXPECTED}."
            )
        return None
    ds = f[key]
    if ds.ndim != 1 or ds.shape[0] != count or not np.issubdtype(ds.dtype, np.integer):
        raise DatasetFormatError(
            f"Dataset {NAME!r}: {key!r} in {os.path.abspath(path)!r} has dtype {ds.dtype} and shape "
            f"{ds.shape}; expected integers of shape ({count},), one label per image."
        )
    labels = ds[()].astype(np.int64)
    if count and labels.min() < 0:
        raise DatasetFormatError(
            f"Dataset {NAME!r}: {key!r} in {os.path.abspath(path)!r} holds negative labels (min {labels.min()}); "
            f"labels are class indices 0..C-1."
        )
    return labels


def _class_file(cfg: CfgNode, path: str) -> str | None:
    if cfg.DATA.CLASS_NAMES:
        if not os.path.isfile(cfg.DATA.CLASS_NAMES):
            raise not_found(NAME, cfg.DATA.CLASS_NAMES, "DATA.CLASS_NAMES: a text file with one class name "
                            "per line (or leave DATA.CLASS_NAMES empty)", False)
        return cfg.DATA.CLASS_NAMES
    folder, stem = os.path.dirname(os.path.abspath(path)), os.path.splitext(os.path.basename(path))[0]
    for name in CLASS_FILES + (f"{stem}.txt",):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def _class_names(path: str, class_file: str | None) -> list[str]:
    """Class names from ``class_file`` or ``class_<i>`` up to the largest train/val label."""
    top = -1
    with _open(path) as f:
        for split in ("train", "val"):
            count = _check_images(f, path, f"images-{split}")
            labels = _read_labels(f, path, f"labels-{split}", count, required=True)
            if labels.size:
                top = max(top, int(labels.max()))
    if class_file is None:
        return [f"class_{i}" for i in range(top + 1)]
    with open(class_file) as fh:
        names = [line.strip() for line in fh if line.strip()]
    if len(names) <= top:
        raise DatasetFormatError(
            f"Dataset {NAME!r}: class-names file {class_file!r} lists {len(names)} classes but the labels go "
            f"up to {top}; give one name per line for every class (or remove the file)."
        )
    return names


class HDF5ImageDataset(Dataset):
    """One split of the HDF5 file; items ``(uint8 tensor [3, H, W], label)``.

    Args:
        path: the HDF5 file.
        split: "train", "val" or "test".
    """

    def __init__(self, path: str, split: str) -> None:
        self.path, self.key = path, f"images-{split}"
        with _open(path) as f:
            self.length = _check_images(f, path, self.key)
            labels = _read_labels(f, path, f"labels-{split}", self.length, required=split != "test")
        self.labels = labels if labels is not None else np.full(self.length, -1, dtype=np.int64)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def _images(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():  # first use in this (worker) process
            self._file, self._pid = _open(self.path), os.getpid()
        return self._file[self.key]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": None}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self._images()[index]), int(self.labels[index])

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, list[int]]:
        """Images ``[B, 3, H, W]`` (uint8) and labels of ``indices`` in one h5py read."""
        index = np.asarray(indices, dtype=np.int64)
        images = self._images()
        if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
            batch = images[index[0]: index[0] + len(index)]  # consecutive (val/test order): one slice
        else:  # h5py wants increasing, unique indices: read those, then restore the batch order
            unique, inverse = np.unique(index, return_inverse=True)
            batch = images[unique][inverse]
        return torch.from_numpy(batch), self.labels[index].tolist()


@register_dataset(NAME)
def medium_imagenet(cfg: CfgNode, split: str) -> SourceSplit:
    """MediumImageNet from its HDF5 file (200 classes in the course's); test labels -1 without labels-test."""
    check_split(split)
    path = resolve_file(cfg.DATA.ROOT)
    data = HDF5ImageDataset(path, split)
    classes = _class_names(os.path.abspath(path), _class_file(cfg, path))
    return SourceSplit(data, classes, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)
