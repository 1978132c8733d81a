"""Every registered dataset on tiny files in its real on-disk format, and every data error path."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from data.base import DatasetFormatError, DatasetNotFoundError
from data.build import build_dataset, build_loader
from data.datasets import CIFAR10_MEAN, CIFAR10_STD
from data.medium_imagenet import HDF5ImageDataset
from tests.data_fixtures import (PET_BREEDS, make_cfg, make_cifar10, make_cifar100, make_flowers, make_h5,
                                 make_pets, skip_md5)

SIZE = 16


def _check_items(dataset, num_classes: int, labeled: bool = True) -> None:
    """Every item is a normalized float [3, SIZE, SIZE] image with an in-range (or -1) label."""
    for image, label in (dataset[i] for i in range(len(dataset))):
        assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32, image.shape
        assert (0 <= label < num_classes) if labeled else label == -1, f"label {label} out of range"


def _splits(cfg):
    return {split: build_dataset(cfg, split) for split in ("train", "val", "test")}


# --- digits (the offline quickstart) ---------------------------------------------------------------

def test_digits_splits_partition_the_1797_images():
    sets = _splits(make_cfg(DATA__IMG_SIZE=SIZE, DATA__VAL_SIZE=0.1))
    sizes = {k: len(v) for k, v in sets.items()}
    assert sizes == {"train": 1294, "val": 144, "test": 359}, sizes
    # the three splits together are exactly the 1,797 images: compare sorted per-image fingerprints
    def fingerprint(images: torch.Tensor) -> torch.Tensor:
        weights = torch.linspace(1, 2, images[0].numel(), dtype=torch.float64)
        return (images.flatten(1).double() @ weights).sort().values  # [N, 3*S*S] @ [3*S*S] -> [N]
    from data.datasets import _digits_images

    together = torch.cat([v.source.images for v in sets.values()])
    torch.testing.assert_close(fingerprint(together), fingerprint(_digits_images(SIZE)[0]), msg="digits split union")
    image, label = sets["train"][0]
    assert image.shape == (3, SIZE, SIZE) and 0 <= label < 10
    assert torch.equal(image[0], image[1]), "digits are grey: the three channels must match"
    assert sets["train"].classes == [str(d) for d in range(10)]


def test_digits_reads_the_bundled_file():
    from data.datasets import _load_digits

    pixels, target = _load_digits()
    assert pixels.shape == (1797, 64) and target.shape == (1797,)
    assert pixels[0, :8].tolist() == [0, 0, 5, 13, 9, 1, 0, 0] and target[0] == 0  # scikit-learn's first digit
    assert np.bincount(target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.mark.slow  # imports scikit-learn (seconds); test_digits_reads_the_bundled_file covers the values
def test_digits_match_load_digits():
    from sklearn.datasets import load_digits

    from data.datasets import _load_digits

    pixels, target = _load_digits()
    reference = load_digits()
    np.testing.assert_array_equal(pixels, reference.data, err_msg="digits pixels vs load_digits().data")
    np.testing.assert_array_equal(target, reference.target, err_msg="digits targets vs load_digits().target")


def test_digits_val_split_is_seeded():
    labels = lambda cfg: build_dataset(cfg, "val").source.labels  # noqa: E731
    a, b = labels(make_cfg(DATA__SPLIT_SEED=3)), labels(make_cfg(DATA__SPLIT_SEED=3))
    c = labels(make_cfg(DATA__SPLIT_SEED=4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_digits_val_size_as_count_and_bad_values():
    assert len(build_dataset(make_cfg(DATA__VAL_SIZE=100.0), "val")) == 100
    for bad in (0.0, 2000.0, 12.5):
        with pytest.raises(ValueError, match=r"DATA.VAL_SIZE .*fraction in \(0, 1\)"):
            build_dataset(make_cfg(DATA__VAL_SIZE=bad), "train")


# --- CIFAR -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, make", [("cifar10", make_cifar10), ("cifar100", make_cifar100)])
def test_cifar_splits_and_labels(tmp_path, monkeypatch, name, make):
    skip_md5(monkeypatch)
    make(str(tmp_path))
    classes = 10 if name == "cifar10" else 100
    sets = _splits(make_cfg(DATA__DATASET=name, DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE, DATA__VAL_SIZE=0.2))
    assert [len(sets[s]) for s in ("train", "val", "test")] == [24, 6, 8]  # 30 train images, VAL_SIZE 0.2
    assert len(sets["train"].classes) == classes and sets["train"].classes[1].endswith("_1")
    for split in sets.values():
        _check_items(split, classes)


def test_cifar10_pixels_and_default_normalization(tmp_path, monkeypatch):
    skip_md5(monkeypatch)
    folder = make_cifar10(str(tmp_path))
    import pickle

    with open(os.path.join(folder, "test_batch"), "rb") as f:
        raw = pickle.load(f)
    cfg = make_cfg(DATA__DATASET="cifar10", DATA__ROOT=folder, DATA__IMG_SIZE=32)  # ROOT may name the folder itself
    image, label = build_dataset(cfg, "test")[0]
    expected = torch.from_numpy(raw["data"][0].reshape(3, 32, 32)).float() / 255  # [3072] -> [3, 32, 32]
    expected = (expected - torch.tensor(CIFAR10_MEAN).view(3, 1, 1)) / torch.tensor(CIFAR10_STD).view(3, 1, 1)
    torch.testing.assert_close(image, expected, rtol=1e-5, atol=1e-5, msg="CIFAR test image 0 after normalization")
    assert label == raw["labels"][0]


def test_cifar_missing_gives_one_clear_error(tmp_path):
    cfg = make_cfg(DATA__DATASET="cifar10", DATA__ROOT=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        build_dataset(cfg, "train")
    message = str(info.value)
    looked_at = str(tmp_path / "nowhere" / "cifar-10-batches-py")
    for part in ("'cifar10'", looked_at, "data_batch_1", "test_batch", "DATA.DOWNLOAD True"):
        assert part in message, f"{part!r} missing from: {message}"
    assert isinstance(info.value, FileNotFoundError)


# --- Oxford-IIIT Pets ------------------------------------------------------------------------------

def test_pets_splits_classes_and_resize(tmp_path):
    make_pets(str(tmp_path))
    cfg = make_cfg(DATA__DATASET="oxford_pets", DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE, DATA__VAL_SIZE=3.0)
    sets = _splits(cfg)
    assert [len(sets[s]) for s in ("train", "val", "test")] == [9, 3, 6]
    assert sets["train"].classes == ["Abyssinian", "American Bulldog", "Bengal"]
    for split in sets.values():
        _check_items(split, len(PET_BREEDS))
    assert sorted(sets["test"][i][1] for i in range(6)) == [0, 0, 1, 1, 2, 2]


def test_pets_missing_annotations(tmp_path):
    base = make_pets(str(tmp_path))
    os.remove(os.path.join(base, "annotations", "test.txt"))
    with pytest.raises(DatasetNotFoundError, match=r"oxford_pets.*annotations/test.txt.*DATA.DOWNLOAD True"):
        build_dataset(make_cfg(DATA__DATASET="oxford_pets", DATA__ROOT=str(tmp_path)), "test")


# --- Flowers-102 -----------------------------------------------------------------------------------

def test_flowers_native_splits(tmp_path, monkeypatch):
    skip_md5(monkeypatch)
    make_flowers(str(tmp_path))
    sets = _splits(make_cfg(DATA__DATASET="flowers102", DATA__ROOT=str(tmp_path), DATA__IMG_SIZE=SIZE))
    assert [len(sets[s]) for s in ("train", "val", "test")] == [5, 3, 4]
    assert len(sets["train"].classes) == 102 and sets["train"].classes[0] == "pink primrose"
    for split in sets.values():
        _check_items(split, 102)


def test_flowers_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"flowers102.*flowers-102.*imagelabels.mat.*setid.mat"):
        build_dataset(make_cfg(DATA__DATASET="flowers102", DATA__ROOT=str(tmp_path)), "train")


# --- MediumImageNet (HDF5 contract) ----------------------------------------------------------------

def _h5_cfg(root, **kw):
    return make_cfg(DATA__DATASET="medium_imagenet", DATA__ROOT=str(root), DATA__IMG_SIZE=SIZE, **kw)


def test_h5_with_test_labels(tmp_path):
    path = make_h5(str(tmp_path / "m.h5"))
    sets = _splits(_h5_cfg(path))
    assert [len(sets[s]) for s in ("train", "val", "test")] == [12, 6, 5]
    assert sets["train"].classes == [f"class_{i}" for i in range(7)]
    for split in sets.values():
        _check_items(split, 7)


def test_h5_without_test_labels_gives_minus_one(tmp_path):
    path = make_h5(str(tmp_path / "m.h5"), labels_test=False)
    _check_items(build_dataset(_h5_cfg(path), "test"), 7, labeled=False)
    bundle = build_loader(_h5_cfg(path, DATA__BATCH_SIZE=4))
    images, labels = next(iter(bundle.test))
    assert images.shape == (5, 3, SIZE, SIZE) and labels.tolist() == [-1] * 5  # eval batch 8 > 5 images


def test_h5_batched_read_matches_per_item(tmp_path):
    path = make_h5(str(tmp_path / "m.h5"), side=20)
    for split in ("train", "val"):
        dataset = build_dataset(_h5_cfg(path), split)
        assert dataset.batchable, "without augmentation the transform should run on whole batches"
        indices = [5, 1, 3, 1, 0] if split == "train" else [0, 1, 2, 3]  # shuffled with a repeat; consecutive
        batch = dataset.__getitems__(indices)
        for (image, label), i in zip(batch, indices):
            single, single_label = dataset[i]
            torch.testing.assert_close(image, single, rtol=0, atol=1e-5, msg=f"{split} item {i}: batched vs single")
            assert label == single_label
        images, labels = batch.images, batch.labels
        assert images.shape == (len(indices), 3, SIZE, SIZE) and labels.tolist() == [single[1] for single in batch]


def test_h5_augmented_train_reads_batches_and_augments_per_image(tmp_path):
    path = make_h5(str(tmp_path / "m.h5"))
    dataset = build_dataset(_h5_cfg(path, AUG__HFLIP=1.0, AUG__RANDOM_CROP_PADDING=2), "train")
    assert not dataset.batchable
    batch = dataset.__getitems__([3, 1])
    assert [label for _, label in batch] == [dataset[3][1], dataset[1][1]]
    assert all(image.shape == (3, SIZE, SIZE) for image, _ in batch)
    flipped = build_dataset(_h5_cfg(path, AUG__HFLIP=1.0), "train").__getitems__([3])[0][0]
    torch.testing.assert_close(flipped, build_dataset(_h5_cfg(path), "train")[3][0].flip(-1), rtol=0, atol=1e-5,
                               msg="HFLIP 1.0 flips every image")


def test_h5_class_names(tmp_path):
    path = make_h5(str(tmp_path / "medium-imagenet-16.h5"))
    beside = tmp_path / "class_names.txt"
    beside.write_text("\n".join(f"n{i:03d}" for i in range(7)) + "\n")
    assert build_dataset(_h5_cfg(tmp_path), "val").classes[-1] == "n006"  # ROOT = the folder
    own = tmp_path / "mine.txt"
    own.write_text("\n".join(f"mine{i}" for i in range(9)))
    assert len(build_dataset(_h5_cfg(path, DATA__CLASS_NAMES=str(own)), "train").classes) == 9
    beside.write_text("a\nb\n")
    with pytest.raises(DatasetFormatError, match=r"lists 2 classes but the labels go up to 6"):
        build_dataset(_h5_cfg(path), "train")
    with pytest.raises(DatasetNotFoundError, match="DATA.CLASS_NAMES"):
        build_dataset(_h5_cfg(path, DATA__CLASS_NAMES=str(tmp_path / "absent.txt")), "train")


def test_h5_opens_lazily_per_worker(tmp_path):
    import pickle

    path = make_h5(str(tmp_path / "m.h5"))
    dataset = HDF5ImageDataset(path, "train")
    dataset[0]
    assert dataset._file is not None
    assert pickle.loads(pickle.dumps(dataset))._file is None, "the h5py handle must not travel to workers"
    bundle = build_loader(_h5_cfg(path, DATA__NUM_WORKERS=2, DATA__BATCH_SIZE=4, DATA__PERSISTENT_WORKERS=False))
    labels = torch.cat([y for _, y in bundle.val])
    assert labels.tolist() == bundle.val.dataset.source.labels.tolist()


@pytest.mark.parametrize("replace, pattern", [
    ({"images_val": None}, r"has no dataset 'images-val' \(it has: .*images-train"),
    ({"labels_train": None}, r"no dataset 'labels-train'.*Train and val labels are required"),
    ({"images_test": np.zeros((5, 3, 16, 16), np.float32)}, r"'images-test'.*dtype float32.*uint8 N x 3 x H x W"),
    ({"images_train": np.zeros((12, 16, 16, 3), np.uint8)}, r"'images-train'.*shape \(12, 16, 16, 3\).*channels first"),
    ({"labels_val": np.zeros(4, np.int64)}, r"'labels-val'.*shape \(4,\); expected integers of shape \(6,\)"),
    ({"labels_val": np.full(6, -2)}, r"'labels-val' in .* holds negative labels \(min -2\)"),
])
def test_h5_format_errors(tmp_path, replace, pattern):
    path = make_h5(str(tmp_path / "m.h5"), **replace)
    with pytest.raises(DatasetFormatError, match=pattern) as info:
        _splits(_h5_cfg(path))
    assert str(tmp_path / "m.h5") in str(info.value), "the message names the file"


def test_h5_missing_or_ambiguous_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"medium_imagenet.*absent.h5.*images-train.*cannot be downloaded"):
        build_dataset(_h5_cfg(tmp_path / "absent.h5"), "train")
    make_h5(str(tmp_path / "a.h5"))
    make_h5(str(tmp_path / "b.hdf5"))
    with pytest.raises(DatasetNotFoundError, match=r"exactly one HDF5 file in the folder, found 2: a.h5, b.hdf5"):
        build_dataset(_h5_cfg(tmp_path), "train")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(DatasetFormatError, match=r"junk.h5' is not a readable HDF5 file"):
        build_dataset(_h5_cfg(tmp_path / "junk.h5"), "train")


# --- names -----------------------------------------------------------------------------------------

def test_unknown_dataset_and_split():
    pattern = r"Unknown dataset 'cifar11'.*Did you mean 'cifar10'.*Known datasets: .*digits.*medium_imagenet"
    with pytest.raises(KeyError, match=pattern):
        build_dataset(make_cfg(DATA__DATASET="cifar11"), "train")
    with pytest.raises(ValueError, match=r"Unknown split 'validation'; use one of train, val, test"):
        build_dataset(make_cfg(), "validation")
