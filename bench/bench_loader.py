"""Benchmark 7b: our MediumImageNet loader against a naive per-item pipeline, side by side.

For each size ``SIDE:IMG_SIZE`` (default the course file's 96x96 images resized to 64, up to 128
from 64x64 files and up to 192), generates a MediumImageNet-like HDF5 file (random uint8 images,
N x 3 x SIDE x SIDE) in a temporary folder and times one pass over its train split, from the
first batch on (worker start-up is excluded for both), until each batch is what a model takes,
a normalized float batch on the device: (a) ``data.build.build_loader``'s loader (uint8 batches)
then ``data.device.to_device`` (normalizes on the device) and (b) the naive pipeline (per item:
``torch.tensor(x / 256)``, ``Normalize``, ``Resize``) then ``.to(device)``, with the same batch
size, workers, output size and shuffling. The two alternate for several repeats; the report
gives, per size, the median images/s of each and the median of the per-repeat ratios (the target),
and the same for CPU time per image (main process and workers), which other load on a shared
machine disturbs far less than the wall time.

    .venv/bin/python -m bench.bench_loader [--sizes 96:64,64:128,96:192] [--images 2000] [--workers 2]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time

import h5py
import numpy as np
import psutil
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from config import load_config
from data.build import build_loader
from data.device import to_device


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


def cpu_seconds() -> float:
    """User + system CPU seconds so far of this process and its live children (the loader's workers)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def time_pass(loader: DataLoader, device: torch.device, ours: bool) -> tuple[float, float]:
    """One pass, each batch taken to ``device`` as the model's normalized float input, from the
    first batch on (worker start-up excluded).

    Returns:
        (images per second, CPU microseconds per image of the main process and the workers
        together, up to the last batch); the CPU time depends far less on other load on the
        machine than the wall time does.
    """
    batches = iter(loader)
    next(batches)  # warm-up: starts the workers and opens the file
    start, cpu_start, count, cpu = time.perf_counter(), cpu_seconds(), 0, float("nan")
    for i, (images, _) in enumerate(batches, 1):
        images = to_device(images, device, loader) if ours else images.to(device, non_blocking=True)
        count += len(images)
        if i == len(loader) - 1:  # the workers are still alive (they exit after the last batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            cpu = (cpu_seconds() - cpu_start) / count * 1e6
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return count / (time.perf_counter() - start), cpu


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"96:64,64:128"`` -> ``[(96, 64), (64, 128)]`` (stored side : output side)."""
    try:
        sizes = [tuple(int(v) for v in item.split(":")) for item in text.split(",")]
        if all(len(s) == 2 and min(s) > 0 for s in sizes):
            return sizes
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"--sizes {text!r}: give SIDE:IMG_SIZE pairs of positive integers "
                                     f"separated by commas, e.g. 96:64,96:192.")


def bench_size(path: str, side: int, size: int, args: argparse.Namespace, device: torch.device) -> dict:
    """Alternate ours and the naive pipeline ``args.repeats`` times at one size; medians."""
    pin = device.type == "cuda"
    cfg = load_config(opts=[
        "DATA.DATASET", "medium_imagenet", "DATA.ROOT", path, "DATA.IMG_SIZE", str(size),
        "DATA.BATCH_SIZE", str(args.batch_size), "DATA.NUM_WORKERS", str(args.workers),
        "DATA.PERSISTENT_WORKERS", "False", "DATA.PIN_MEMORY", str(pin),
    ])
    naive_set = NaiveHDF5(path, size)
    ours, naive = [], []  # (images/s, CPU us/image) per repeat
    for r in range(args.repeats):
        generator = torch.Generator().manual_seed(r)
        ours.append(time_pass(build_loader(cfg).train, device, ours=True))
        naive.append(time_pass(DataLoader(naive_set, args.batch_size, shuffle=True, num_workers=args.workers,
                                          pin_memory=pin, generator=generator), device, ours=False))
        print(f"  {side}->{size} repeat {r + 1}: ours {ours[-1][0]:8.0f} img/s   naive {naive[-1][0]:8.0f} img/s   "
              f"ratio {ours[-1][0] / naive[-1][0]:5.2f}x   CPU ratio {_ratio(naive[-1][1], ours[-1][1]):5.2f}x", flush=True)
    return {"ours_img_s": statistics.median(o for o, _ in ours), "naive_img_s": statistics.median(n for n, _ in naive),
            "ratio": statistics.median(o / n for (o, _), (n, _) in zip(ours, naive)),
            "ours_cpu_us": statistics.median(c for _, c in ours), "naive_cpu_us": statistics.median(c for _, c in naive),
            "cpu_ratio": statistics.median(_ratio(n, o) for (_, o), (_, n) in zip(ours, naive))}


def _ratio(a: float, b: float) -> float:
    """a / b; NaN when b is 0 (a pass too short for the CPU clock's 10 ms ticks)."""
    return a / b if b > 0 else float("nan")


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns per size ``"SIDE->IMG_SIZE"`` the medians ``{"ours_img_s",
    "naive_img_s", "ratio", "ours_cpu_us", "naive_cpu_us", "cpu_ratio"}`` (CPU microseconds per
    image, main process and workers together).

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("96:64,64:128,96:192"),
                        help="SIDE:IMG_SIZE pairs: stored image side (the course file stores 96x96) and "
                             "DATA.IMG_SIZE (64 in configs/resnet18_medium_imagenet.yaml)")
    parser.add_argument("--images", type=int, default=2000, help="images per split in each generated file")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # both pipelines get the same, single intra-op thread per process
    device = torch.device(args.device)

    results, load = {}, [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        for side, size in args.sizes:
            path = os.path.join(tmp, f"medium-imagenet-{side}.h5")
            if not os.path.exists(path):
                make_file(path, args.images, side)
            results[f"{side}->{size}"] = bench_size(path, side, size, args, device)
            load.append(os.getloadavg()[0])
    print(f"loader bench ({args.images} images, batch {args.batch_size}, {args.workers} workers, "
          f"{args.repeats} repeats, normalized float batches on {device}; target >= 3x at every size):")
    for name, r in results.items():
        print(f"  {name:>9}: ours {r['ours_img_s']:7.0f} img/s, naive {r['naive_img_s']:7.0f} img/s, "
              f"median ratio {r['ratio']:.2f}x{'' if r['ratio'] >= 3 else ' (below 3x)'}; CPU per image "
              f"{r['ours_cpu_us']:.0f} vs {r['naive_cpu_us']:.0f} us, {r['cpu_ratio']:.2f}x less")
    # other work on the machine slows both pipelines; the ratio is fair only between runs at similar load
    print(f"  1-minute load average {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} CPUs during the run")
    return results


if __name__ == "__main__":
    main()
