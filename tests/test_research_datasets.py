"""stl10 and tiny_imagenet read tiny files written in their real on-disk formats."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from config import load_config
from data.base import DatasetFormatError, DatasetNotFoundError
from data.build import build_dataset
from data.registry import DATASETS

import data.research_datasets  # noqa: F401  (registers stl10, tiny_imagenet)


def _cfg(dataset: str, root, *opts):
    return load_config(None, ["DATA.DATASET", dataset, "DATA.ROOT", str(root), "DATA.VAL_SIZE", "2",
                              "DATA.IMG_SIZE", "32", *opts])


# ---------------------------------------------------------------------------------------------- STL-10
STL_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _write_stl_images(path, images: np.ndarray) -> None:
    """STL-10 stores each image column-major: [N, 3, W, H] bytes."""
    images.transpose(0, 1, 3, 2).astype(np.uint8).tofile(path)


@pytest.fixture
def stl_root(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    train = rng.integers(0, 256, (6, 3, 96, 96), dtype=np.uint8)
    test = rng.integers(0, 256, (4, 3, 96, 96), dtype=np.uint8)
    _write_stl_images(folder / "train_X.bin", train)
    np.array([1, 2, 3, 4, 5, 10], dtype=np.uint8).tofile(folder / "train_y.bin")  # labels are 1-based
    _write_stl_images(folder / "test_X.bin", test)
    np.array([10, 9, 1, 2], dtype=np.uint8).tofile(folder / "test_y.bin")
    (folder / "class_names.txt").write_text("\n".join(STL_CLASSES) + "\n")
    return tmp_path, train, test


def test_stl10_reads_the_binary_format(stl_root):
    root, train, test = stl_root
    cfg = _cfg("stl10", root)
    source = DATASETS.get("stl10")(cfg, "test")
    assert source.classes == STL_CLASSES
    assert len(source.data) == 4
    image, label = source.data[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 96, 96)
    torch.testing.assert_close(image, torch.from_numpy(test[0]), msg="test image 0 differs from the file")
    assert [source.data[i][1] for i in range(4)] == [9, 8, 0, 1]  # 0-based
    tr, va = (DATASETS.get("stl10")(cfg, s) for s in ("train", "val"))
    assert len(tr.data) == 4 and len(va.data) == 2  # VAL_SIZE 2 held out of 6
    got = sorted(tr.data[i][1] for i in range(4)) + sorted(va.data[i][1] for i in range(2))
    assert sorted(got) == [0, 1, 2, 3, 4, 9]


def test_stl10_through_build_dataset_and_root_pointing_at_the_folder(stl_root):
    root, _, _ = stl_root
    ds = build_dataset(_cfg("stl10", root / "stl10_binary"), "test")
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 8


def test_stl10_missing_files_name_the_path(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="stl10_binary"):
        DATASETS.get("stl10")(_cfg("stl10", tmp_path), "train")


# ---------------------------------------------------------------------------------------- Tiny ImageNet
WNIDS = ["n02", "n01", "n03"]  # unsorted on purpose: labels follow the sorted wnids


def _jpeg(path, colour, grey: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if grey:
        Image.new("L", (64, 64), colour[0]).save(path, "JPEG")
    else:
        Image.new("RGB", (64, 64), colour).save(path, "JPEG")


@pytest.fixture
def tiny_root(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    folder.mkdir()
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (folder / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\ttabby, tabby cat\n"
                                      "n03\tschool bus\nn99\tnot in this subset\n")
    for i, wnid in enumerate(WNIDS):
        for j in range(2):
            _jpeg(folder / "train" / wnid / "images" / f"{wnid}_{j}.JPEG", (40 * i, 0, 0), grey=(i == 2 and j == 1))
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text(f"{wnid}_0.JPEG\t0\t0\t63\t63\n")
    rows = [("val_0.JPEG", "n03"), ("val_1.JPEG", "n01"), ("val_2.JPEG", "n02")]
    for name, _ in rows:
        _jpeg(folder / "val" / "images" / name, (0, 200, 0))
    (folder / "val" / "val_annotations.txt").write_text("".join(f"{n}\t{w}\t0\t0\t63\t63\n" for n, w in rows))
    for name in ("test_10.JPEG", "test_2.JPEG"):
        _jpeg(folder / "test" / "images" / name, (0, 0, 200))
    return tmp_path


def test_tiny_imagenet_reads_the_folder_format(tiny_root):
    cfg = _cfg("tiny_imagenet", tiny_root)
    train = DATASETS.get("tiny_imagenet")(cfg, "train")
    assert train.classes == ["goldfish", "tabby", "school bus"]  # sorted wnids n01, n02, n03
    assert len(train.data) == 6
    labels = sorted(train.data[i][1] for i in range(6))
    assert labels == [0, 0, 1, 1, 2, 2]
    for i in range(6):
        image, _ = train.data[i]
        assert image.shape == (3, 64, 64) and image.dtype == torch.uint8  # grey JPEG read as RGB too
    val = DATASETS.get("tiny_imagenet")(cfg, "val")
    assert [val.data[i][1] for i in range(3)] == [2, 0, 1]
    test = DATASETS.get("tiny_imagenet")(cfg, "test")
    assert [os.path.basename(p) for p, _ in test.data.samples] == ["test_2.JPEG", "test_10.JPEG"]
    assert all(test.data[i][1] == -1 for i in range(2))


def test_tiny_imagenet_through_build_dataset(tiny_root):
    ds = build_dataset(_cfg("tiny_imagenet", tiny_root / "tiny-imagenet-200"), "val")
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and y == 2


def test_tiny_imagenet_bad_annotation_names_the_line(tiny_root):
    ann = tiny_root / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    ann.write_text(ann.read_text() + "val_3.JPEG\tn42\t0\t0\t1\t1\n")
    with pytest.raises(DatasetFormatError, match="line 4"):
        DATASETS.get("tiny_imagenet")(_cfg("tiny_imagenet", tiny_root), "val")


def test_tiny_imagenet_missing_folder_names_the_path(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="tiny-imagenet-200"):
        DATASETS.get("tiny_imagenet")(_cfg("tiny_imagenet", tmp_path), "train")
