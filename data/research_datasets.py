"""The architecture-comparison datasets in their real on-disk formats: ``stl10`` and ``tiny_imagenet``.

* ``stl10``: torchvision's STL10 binary files in ``DATA.ROOT/stl10_binary/`` (``train_X.bin``,
  ``train_y.bin``, ``test_X.bin``, ``test_y.bin``, ``class_names.txt``); 96x96, 10 classes. The
  unlabeled split is not used, so it need not be there. Val is a seeded holdout from train
  (``DATA.VAL_SIZE``); test is the labeled official test set.
* ``tiny_imagenet``: the cs231n folder ``DATA.ROOT/tiny-imagenet-200/`` (``wnids.txt``,
  ``words.txt``, ``train/<wnid>/images/*.JPEG``, ``val/images/`` with ``val/val_annotations.txt``,
  ``test/images/``); 64x64, 200 classes. Train and val are the official splits; test is unlabeled
  (label -1), in the order of the number in ``test_<n>.JPEG``. Labels follow the sorted wnids.

Each factory is ``(cfg, split) -> SourceSplit``; see ``data/build.py``.
"""
from __future__ import annotations

import functools
import os
import re

import numpy as np
import torch
import torchvision.datasets as tvd
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image
from yacs.config import CfgNode

from data.base import DatasetFormatError, SourceSplit, TensorImageDataset, check_split, not_found, pick_holdout
from data.registry import register_dataset

STL10_MEAN, STL10_STD = (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)
TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

_read_rgb = functools.partial(decode_image, mode=ImageReadMode.RGB)  # uint8 [3, H, W]; grey JPEGs -> 3 channels


def _root_for(root: str, base_folder: str) -> str:
    """Accept DATA.ROOT pointing at the dataset's folder itself or at its parent."""
    root = os.path.normpath(root)
    return os.path.dirname(root) if os.path.basename(root) == base_folder else root


class _LabeledSTL10(tvd.STL10):
    """torchvision's STL10 reader that asks only for the labeled files.

    torchvision checks the MD5 of all five binaries, the 2.7 GB unlabeled one included, before
    loading any split; we check that the four labeled files are there and leave the reading
    (and the download, when asked) to torchvision.
    """

    def _check_integrity(self) -> bool:
        names = [name for name, _md5 in self.train_list + self.test_list if not name.startswith("unlabeled")]
        return all(os.path.isfile(os.path.join(self.root, self.base_folder, n)) for n in names)


@register_dataset("stl10")
def stl10(cfg: CfgNode, split: str) -> SourceSplit:
    """STL-10 (labeled part): 5,000 train images (val held out from them) and 8,000 test, 96x96."""
    check_split(split)
    root = _root_for(cfg.DATA.ROOT, _LabeledSTL10.base_folder)
    expected = "folder stl10_binary/ with train_X.bin, train_y.bin, test_X.bin, test_y.bin, class_names.txt"
    try:
        ds = _LabeledSTL10(root, split="test" if split == "test" else "train", download=cfg.DATA.DOWNLOAD)
    except (RuntimeError, OSError) as e:
        raise not_found("stl10", os.path.join(root, "stl10_binary"), expected, True, str(e)) from e
    except ValueError as e:  # np.reshape of a file whose size is not a multiple of one image
        raise DatasetFormatError(
            f"STL-10 binaries in {os.path.join(root, 'stl10_binary')!r} are malformed ({e}); each *_X.bin "
            f"holds N x 3 x 96 x 96 uint8 (column-major images) and *_y.bin N labels 1..10. Re-extract them."
        ) from e
    images = torch.from_numpy(np.ascontiguousarray(ds.data))  # uint8 [N, 3, 96, 96]
    labels = torch.as_tensor(ds.labels.astype(np.int64))
    if len(images) != len(labels):
        raise DatasetFormatError(
            f"STL-10 split {split!r} in {root!r} has {len(images)} images but {len(labels)} labels; "
            f"the *_X.bin and *_y.bin files must come from the same archive."
        )
    classes = list(getattr(ds, "classes", [])) or [f"class_{i}" for i in range(10)]
    if split != "test":
        index = torch.as_tensor(pick_holdout(split, len(labels), cfg.DATA.VAL_SIZE, cfg.DATA.SPLIT_SEED))
        images, labels = images[index], labels[index]
    return SourceSplit(TensorImageDataset(images, labels), classes, STL10_MEAN, STL10_STD)


class ImageListDataset(Dataset):
    """Images read from files on access: items ``(uint8 [3, H, W], label)``.

    Args:
        samples: ``(path, label)`` pairs; label -1 for unlabeled images.
    """

    def __init__(self, samples: list[tuple[str, int]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return _read_rgb(path), label


def _tiny_imagenet_classes(folder: str) -> tuple[list[str], list[str]]:
    """Sorted wnids and their readable names (first synonym in words.txt, else the wnid)."""
    with open(os.path.join(folder, "wnids.txt")) as f:
        wnids = sorted(line.strip() for line in f if line.strip())
    words: dict[str, str] = {}
    words_file = os.path.join(folder, "words.txt")
    if os.path.isfile(words_file):
        with open(words_file) as f:
            for line in f:
                wnid, _, text = line.rstrip("\n").partition("\t")
                words[wnid] = text.split(",")[0].strip()
    return wnids, [words.get(w) or w for w in wnids]


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


@register_dataset("tiny_imagenet")
def tiny_imagenet(cfg: CfgNode, split: str) -> SourceSplit:
    """Tiny ImageNet (cs231n): 100k train, 10k labeled val, 10k unlabeled test, 64x64, 200 classes."""
    check_split(split)
    root = _root_for(cfg.DATA.ROOT, "tiny-imagenet-200")
    folder = os.path.join(root, "tiny-imagenet-200")
    expected = ("folder tiny-imagenet-200/ with wnids.txt, words.txt, train/<wnid>/images/*.JPEG, "
                "val/images/*.JPEG + val/val_annotations.txt, test/images/*.JPEG")
    if not os.path.isfile(os.path.join(folder, "wnids.txt")) and cfg.DATA.DOWNLOAD:
        try:
            tvd.utils.download_and_extract_archive(TINY_IMAGENET_URL, root)
        except OSError as e:
            raise not_found("tiny_imagenet", folder, expected, True, f"download failed: {e}") from e
    if not os.path.isfile(os.path.join(folder, "wnids.txt")):
        raise not_found("tiny_imagenet", folder, expected, True, "wnids.txt missing")
    wnids, names = _tiny_imagenet_classes(folder)
    label_of = {w: i for i, w in enumerate(wnids)}
    if split == "train":
        train_dir = os.path.join(folder, "train")
        try:
            ds = tvd.ImageFolder(train_dir, loader=_read_rgb)  # finds train/<wnid>/images/*.JPEG
        except (FileNotFoundError, OSError) as e:
            raise not_found("tiny_imagenet", train_dir, expected, True, str(e)) from e
        unknown = sorted(set(ds.classes) - set(label_of))
        if unknown:
            raise DatasetFormatError(
                f"Tiny ImageNet train folders {unknown[:3]} are not listed in {folder}/wnids.txt; "
                f"every train/<wnid> must be one of its wnids."
            )
        samples = [(path, label_of[ds.classes[c]]) for path, c in ds.samples]
    elif split == "val":
        samples = _tiny_imagenet_val(folder, label_of, expected)
    else:
        test_dir = os.path.join(folder, "test", "images")
        if not os.path.isdir(test_dir):
            raise not_found("tiny_imagenet", test_dir, expected, True, "test/images missing")
        files = sorted((f for f in os.listdir(test_dir) if f.lower().endswith((".jpeg", ".jpg", ".png"))),
                       key=_natural_key)
        samples = [(os.path.join(test_dir, f), -1) for f in files]
    return SourceSplit(ImageListDataset(samples), names, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


def _tiny_imagenet_val(folder: str, label_of: dict[str, int], expected: str) -> list[tuple[str, int]]:
    """``(path, label)`` of val/images from val/val_annotations.txt (file, wnid, box), in file order."""
    annotations = os.path.join(folder, "val", "val_annotations.txt")
    if not os.path.isfile(annotations):
        raise not_found("tiny_imagenet", annotations, expected, True, "val_annotations.txt missing")
    samples = []
    with open(annotations) as f:
        for number, line in enumerate(f, 1):
            parts = line.split("\t")
            if not line.strip():
                continue
            if len(parts) < 2 or parts[1].strip() not in label_of:
                raise DatasetFormatError(
                    f"{annotations} line {number}: {line.strip()!r} should be "
                    f"'<file>\\t<wnid>\\t<x>\\t<y>\\t<w>\\t<h>' with a wnid from wnids.txt."
                )
            samples.append((os.path.join(folder, "val", "images", parts[0].strip()), label_of[parts[1].strip()]))
    return sorted(samples, key=lambda s: _natural_key(os.path.basename(s[0])))
