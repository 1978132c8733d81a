"""Registered datasets read through torchvision / scikit-learn: cifar10, cifar100, oxford_pets,
flowers102 and digits (the offline quickstart). ``medium_imagenet`` lives in ``data/medium_imagenet.py``.

Each factory is ``(cfg, split) -> SourceSplit``; see ``data/build.py`` for the contract.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.datasets as tvd
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import Subset
from torchvision.io import ImageReadMode, decode_image
from yacs.config import CfgNode

from data.base import SourceSplit, TensorImageDataset, check_split, holdout_indices, not_found, pick_holdout
from data.registry import register_dataset

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
DIGITS_TEST_FRACTION = 0.2  # fixed, seeded (DATA.SPLIT_SEED) test part of scikit-learn's digits


def _root_for(root: str, base_folder: str) -> str:
    """Accept DATA.ROOT pointing either at the parent of torchvision's folder or at the folder itself."""
    root = os.path.normpath(root)
    return os.path.dirname(root) if os.path.basename(root) == base_folder else root


def _cifar(cls: type, name: str, expected: str, cfg: CfgNode, split: str, mean, std) -> SourceSplit:
    check_split(split)
    root = _root_for(cfg.DATA.ROOT, cls.base_folder)
    try:
        ds = cls(root, train=split != "test", download=cfg.DATA.DOWNLOAD)
    except (RuntimeError, OSError) as e:  # torchvision: "Dataset not found or corrupted"; offline download
        raise not_found(name, os.path.join(root, cls.base_folder), expected, True, str(e)) from e
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # [N, H, W, 3] -> [N, 3, H, W]
    labels = torch.as_tensor(ds.targets, dtype=torch.long)
    if split != "test":  # val is a seeded holdout from the official train batches
        index = torch.as_tensor(pick_holdout(split, len(labels), cfg.DATA.VAL_SIZE, cfg.DATA.SPLIT_SEED))
        images, labels = images[index], labels[index]
    return SourceSplit(TensorImageDataset(images, labels), list(ds.classes), mean, std)


@register_dataset("cifar10")
def cifar10(cfg: CfgNode, split: str) -> SourceSplit:
    """CIFAR-10 (python version); val held out from train, test = the official labeled test batch."""
    expected = "folder cifar-10-batches-py/ with data_batch_1 ... data_batch_5, test_batch, batches.meta"
    return _cifar(tvd.CIFAR10, "cifar10", expected, cfg, split, CIFAR10_MEAN, CIFAR10_STD)


@register_dataset("cifar100")
def cifar100(cfg: CfgNode, split: str) -> SourceSplit:
    """CIFAR-100 (python version, 100 fine labels); val held out from train, test labeled."""
    expected = "folder cifar-100-python/ with train, test, meta"
    return _cifar(tvd.CIFAR100, "cifar100", expected, cfg, split, CIFAR100_MEAN, CIFAR100_STD)


@register_dataset("oxford_pets")
def oxford_pets(cfg: CfgNode, split: str) -> SourceSplit:
    """Oxford-IIIT Pet, 37 breeds; val held out from trainval, test = the labeled test list."""
    check_split(split)
    root = _root_for(cfg.DATA.ROOT, "oxford-iiit-pet")
    try:
        ds = tvd.OxfordIIITPet(root, split="test" if split == "test" else "trainval", download=cfg.DATA.DOWNLOAD)
    except (RuntimeError, OSError) as e:  # missing folders (RuntimeError) or annotation file (OSError)
        expected = "folder oxford-iiit-pet/ with images/*.jpg and annotations/trainval.txt, annotations/test.txt"
        raise not_found("oxford_pets", os.path.join(root, "oxford-iiit-pet"), expected, True, str(e)) from e
    data = ds if split == "test" else Subset(ds, pick_holdout(split, len(ds), cfg.DATA.VAL_SIZE, cfg.DATA.SPLIT_SEED))
    return SourceSplit(data, list(ds.classes), IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


@register_dataset("flowers102")
def flowers102(cfg: CfgNode, split: str) -> SourceSplit:
    """Oxford 102 Flowers with its own train / val / test lists (setid.mat), all labeled."""
    check_split(split)
    root = _root_for(cfg.DATA.ROOT, "flowers-102")
    read_rgb = functools.partial(decode_image, mode=ImageReadMode.RGB)  # uint8 [3, H, W], no PIL round trip
    try:
        ds = tvd.Flowers102(root, split=split, download=cfg.DATA.DOWNLOAD, loader=read_rgb)
    except (RuntimeError, OSError) as e:
        expected = "folder flowers-102/ with jpg/image_00001.jpg ..., imagelabels.mat, setid.mat"
        raise not_found("flowers102", os.path.join(root, "flowers-102"), expected, True, str(e)) from e
    classes = list(getattr(tvd.Flowers102, "classes", [])) or [f"class_{i}" for i in range(102)]
    return SourceSplit(ds, classes, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


@functools.lru_cache(maxsize=2)
def _digits_images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits upsampled once to ``size``: uint8 [N, 3, size, size] and labels [N]."""
    pixels, target = _load_digits()
    x = torch.from_numpy(pixels).float().view(-1, 1, 8, 8) / 16.0  # [N, 64] -> [N, 1, 8, 8], 0..1
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)  # [N, 1, S, S]
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()  # [N, 3, S, S]
    return x, torch.from_numpy(target).long()


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as pixels [N, 64] (0..16) and targets [N].

    Reads the CSV that scikit-learn bundles (the file ``load_digits`` parses) without importing
    scikit-learn, which costs seconds of start-up on a small machine; falls back to ``load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    folder = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else ""
    path = os.path.join(folder, "datasets", "data", "digits.csv.gz")
    if os.path.isfile(path):
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1], data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data, digits.target


@register_dataset("digits")
def digits(cfg: CfgNode, split: str) -> SourceSplit:
    """scikit-learn's bundled 8x8 digits (offline): seeded 20% test, val held out from the rest."""
    check_split(split)
    images, labels = _digits_images(cfg.DATA.IMG_SIZE)
    rest, test = holdout_indices(len(labels), DIGITS_TEST_FRACTION, cfg.DATA.SPLIT_SEED)
    if split == "test":
        index = test
    else:
        train_pos, val_pos = holdout_indices(len(rest), cfg.DATA.VAL_SIZE, cfg.DATA.SPLIT_SEED)
        index = [rest[i] for i in (train_pos if split == "train" else val_pos)]
    index = torch.as_tensor(index)
    pixels = images[:, 0].float() / 255  # all channels are equal
    mean, std = [pixels.mean().item()] * 3, [pixels.std().item()] * 3
    return SourceSplit(TensorImageDataset(images[index], labels[index]), [str(d) for d in range(10)], mean, std)
