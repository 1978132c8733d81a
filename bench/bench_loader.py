"""Benchmark 7b: our MediumImageNet loader against a naive per-item pipeline, side by side.

Generates a MediumImageNet-like HDF5 file (random uint8 images, N x 3 x H x W) in a temporary
folder and times one pass over its train split, from the first batch on (worker start-up is
excluded for both), with (a) ``data.build.build_loader`` and (b) the naive pipeline (per item:
``torch.tensor(x / 256)``, ``Normalize``, ``Resize``), with the same batch size, workers, output
size and shuffling. The two alternate for several repeats; the report gives the median images/s
of each and the median of the per-repeat ratios.

    .venv/bin/python -m bench.bench_loader [--images 2000] [--img-size 128] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import h5py
import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from config import load_config
from data.build import build_loader


def make_file(path: str, images: int, side: int, classes: int = 200, seed: int = 0) -> None:
    """Write a MediumImageNet-shaped HDF5 file of random images (train, val and test of ``images`` each)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for split in ("train", "val", "test"):
            f[f"images-{split}"] = rng.integers(0, 256, (images, 3, side, side), dtype=np.uint8)
            if split != "test":
                f[f"labels-{split}"] = rng.integers(0, classes, images)


class NaiveHDF5(Dataset):
    """The naive reference: one h5py read per item, float64 division, Normalize, then Resize."""

    def __init__(self, path: str, size: int) -> None:
        self.path, self.file = path, None
        with h5py.File(path, "r") as f:
            self.labels = f["labels-train"][()]
        self.transform = T.Compose([T.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD), T.Resize((size, size))])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        if self.file is None:
            self.file = h5py.File(self.path, "r")
        x = torch.tensor(self.file["images-train"][index] / 256)
        return self.transform(x), int(self.labels[index])


def time_pass(loader: DataLoader) -> float:
    """Images per second of one pass, timed from the first batch on (worker start-up excluded)."""
    batches = iter(loader)
    next(batches)  # warm-up: starts the workers and opens the file
    start, count = time.perf_counter(), 0
    for images, _ in batches:
        count += len(images)
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the medians ``{"ours_img_s", "naive_img_s", "ratio"}``.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images per split in the generated file")
    parser.add_argument("--side", type=int, default=96, help="stored image side (the course file stores 96x96)")
    parser.add_argument("--img-size", type=int, default=64, help="DATA.IMG_SIZE (output side; 64 in configs/resnet18_medium_imagenet.yaml)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # both pipelines get the same, single intra-op thread per process

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "medium-imagenet-bench.h5")
        make_file(path, args.images, args.side)
        cfg = load_config(opts=[
            "DATA.DATASET", "medium_imagenet", "DATA.ROOT", path, "DATA.IMG_SIZE", str(args.img_size),
            "DATA.BATCH_SIZE", str(args.batch_size), "DATA.NUM_WORKERS", str(args.workers),
            "DATA.PERSISTENT_WORKERS", "False", "DATA.PIN_MEMORY", "False",
        ])
        naive_set = NaiveHDF5(path, args.img_size)
        ours, naive = [], []
        for r in range(args.repeats):
            generator = torch.Generator().manual_seed(r)
            ours.append(time_pass(build_loader(cfg).train))
            naive.append(time_pass(DataLoader(naive_set, args.batch_size, shuffle=True,
                                              num_workers=args.workers, generator=generator)))
            print(f"repeat {r + 1}: ours {ours[-1]:8.0f} img/s   naive {naive[-1]:8.0f} img/s   "
                  f"ratio {ours[-1] / naive[-1]:5.2f}x", flush=True)
    ratios = [o / n for o, n in zip(ours, naive)]
    result = {"ours_img_s": statistics.median(ours), "naive_img_s": statistics.median(naive),
              "ratio": statistics.median(ratios)}
    print(f"loader bench ({args.images} images {args.side}x{args.side} -> {args.img_size}, batch "
          f"{args.batch_size}, {args.workers} workers, {args.repeats} repeats): ours "
          f"{result['ours_img_s']:.0f} img/s, naive {result['naive_img_s']:.0f} img/s, "
          f"median ratio {result['ratio']:.2f}x (target >= 3x)")
    return result


if __name__ == "__main__":
    main()
