"""Tiny datasets written in their real on-disk formats, for the data tests.

Each ``make_*`` writes under ``root`` exactly what the real download unpacks to (file names,
pickle/MAT/HDF5 layouts), with a handful of random images.
"""
from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import scipy.io
import torchvision.datasets as tvd
from PIL import Image

from config import get_defaults


def make_cfg(**overrides):
    """A frozen config from the defaults with ``SECTION__KEY=value`` (or top-level ``KEY=value``)
    overrides; NUM_WORKERS 0 unless overridden."""
    cfg = get_defaults()
    cfg.DATA.NUM_WORKERS = 0
    for key, value in overrides.items():
        node, *path = key.split("__")
        if path:
            cfg[node][path[0]] = value
        else:
            cfg[node] = value
    cfg.freeze()
    return cfg


def skip_md5(monkeypatch) -> None:
    """Let torchvision accept tiny CIFAR/Flowers files: clear the md5s it checks (tests only)."""
    for cls in (tvd.CIFAR10, tvd.CIFAR100):
        monkeypatch.setattr(cls, "train_list", [[name, None] for name, _ in cls.train_list])
        monkeypatch.setattr(cls, "test_list", [[name, None] for name, _ in cls.test_list])
        monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": None})
    files = {key: (name, None) for key, (name, _) in tvd.Flowers102._file_dict.items()}
    monkeypatch.setattr(tvd.Flowers102, "_file_dict", files)


def _pickle(path: str, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def make_cifar10(root: str, per_batch: int = 6, test: int = 8, seed: int = 0) -> str:
    """``root/cifar-10-batches-py`` with data_batch_1..5, test_batch, batches.meta (10 classes)."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", test)]:
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)  # rows: R plane, G plane, B plane
        _pickle(os.path.join(folder, name), {"data": data, "labels": rng.integers(0, 10, n).tolist()})
    _pickle(os.path.join(folder, "batches.meta"), {"label_names": [f"c10_{i}" for i in range(10)]})
    return folder


def make_cifar100(root: str, train: int = 30, test: int = 8, seed: int = 0) -> str:
    """``root/cifar-100-python`` with train, test, meta (100 fine classes)."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    for name, n in (("train", train), ("test", test)):
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        fine = rng.integers(0, 100, n).tolist()
        labels = {"fine_labels": fine, "coarse_labels": [f // 5 for f in fine]}
        _pickle(os.path.join(folder, name), {"data": data, **labels})
    _pickle(os.path.join(folder, "meta"), {"fine_label_names": [f"c100_{i}" for i in range(100)],
                                            "coarse_label_names": [f"super_{i}" for i in range(20)]})
    return folder


def _jpeg(path: str, rng: np.random.Generator, height: int, width: int) -> None:
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, quality=90)


PET_BREEDS = ("Abyssinian", "american_bulldog", "Bengal")


def make_pets(root: str, trainval_per_class: int = 4, test_per_class: int = 2, seed: int = 0) -> str:
    """``root/oxford-iiit-pet`` with images/*.jpg and annotations/{trainval,test}.txt (3 breeds)."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "oxford-iiit-pet")
    os.makedirs(os.path.join(base, "images"))
    os.makedirs(os.path.join(base, "annotations"))
    counter = 0
    for split, per_class in (("trainval", trainval_per_class), ("test", test_per_class)):
        lines = []
        for label, breed in enumerate(PET_BREEDS, start=1):
            species = 1 if breed[0].isupper() else 2  # cats are capitalised in the real file names
            for _ in range(per_class):
                counter += 1
                image_id = f"{breed}_{counter}"
                _jpeg(os.path.join(base, "images", f"{image_id}.jpg"), rng, 20 + counter % 7, 24 + counter % 5)
                lines.append(f"{image_id} {label} {species} {counter}")
        with open(os.path.join(base, "annotations", f"{split}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return base


def make_flowers(root: str, splits: tuple[int, int, int] = (5, 3, 4), seed: int = 0) -> str:
    """``root/flowers-102`` with jpg/image_00001.jpg..., imagelabels.mat, setid.mat."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "flowers-102")
    os.makedirs(os.path.join(base, "jpg"))
    total = sum(splits)
    for i in range(1, total + 1):
        _jpeg(os.path.join(base, "jpg", f"image_{i:05d}.jpg"), rng, 18 + i % 4, 22)
    scipy.io.savemat(os.path.join(base, "imagelabels.mat"), {"labels": rng.integers(1, 103, total)[None, :]})  # 1-based
    ids = rng.permutation(np.arange(1, total + 1))
    a, b = splits[0], splits[0] + splits[1]
    setid = {"trnid": ids[None, :a], "valid": ids[None, a:b], "tstid": ids[None, b:]}
    scipy.io.savemat(os.path.join(base, "setid.mat"), setid)
    return base


def make_h5(path: str, sizes: tuple[int, int, int] = (12, 6, 5), side: int = 16, classes: int = 7,
            labels_test: bool = True, seed: int = 0, **replace) -> str:
    """A MediumImageNet-contract HDF5 file; ``replace`` swaps in (or, with None, drops) a dataset."""
    rng = np.random.default_rng(seed)
    content = {}
    for split, n in zip(("train", "val", "test"), sizes):
        content[f"images-{split}"] = rng.integers(0, 256, (n, 3, side, side), dtype=np.uint8)
        if split != "test" or labels_test:
            content[f"labels-{split}"] = rng.integers(0, classes, n)
    for split in ("train", "val"):  # make sure the largest label is present
        content[f"labels-{split}"][0] = classes - 1
    for key, value in replace.items():
        content[key.replace("_", "-")] = value
    with h5py.File(path, "w") as f:
        for key, value in content.items():
            if value is not None:
                f[key] = value
    return path
