"""main.py's training step against a minimal hand-written PyTorch loop, side by side.

Both loops train identical copies of the same model on the same pre-made batches (no data
loading), alternating in rounds; the ratio is the median of per-round time ratios.

    .venv/bin/python -m bench.bench_train_step [--model resnet18] [--rounds 5]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from config import load_config
from engine.optim import build_optimizer, build_scheduler
from main import TrainState, train_one_epoch
from models.build import build_model


def raw_loop(model, batches, optimizer) -> None:
    model.train()
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--img-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    cfg = load_config(None, ["MODEL.NAME", args.model, "DATA.IMG_SIZE", str(args.img_size), "PROGRESS", "False",
                             "PRINT_FREQ", "0", "TRAIN.WEIGHT_DECAY", "0.0", "TRAIN.EPOCHS", "1000"])
    device = torch.device(args.device)
    torch.manual_seed(0)
    batches = [(torch.randn(args.batch, 3, args.img_size, args.img_size, device=device),
                torch.randint(0, 10, (args.batch,), device=device)) for _ in range(args.steps)]
    ours_model = build_model(cfg, 10).to(device)
    raw_model = copy.deepcopy(ours_model)
    ours_opt, raw_opt = build_optimizer(cfg, ours_model), build_optimizer(cfg, raw_model)
    scheduler = build_scheduler(cfg, ours_opt, len(batches))
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    state = TrainState()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def timed(fn) -> float:
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    ours = lambda: train_one_epoch(ours_model, batches, ours_opt, scheduler, scaler, None, cfg, device, state,
                                   10**9, lambda *_: None)
    raw = lambda: raw_loop(raw_model, batches, raw_opt)
    ours(), raw()  # warm-up
    ratios, t_ours, t_raw = [], [], []
    for r in range(args.rounds):
        a, b = (timed(ours), timed(raw)) if r % 2 == 0 else tuple(reversed((timed(raw), timed(ours))))
        t_ours.append(a)
        t_raw.append(b)
        ratios.append(a / b)
    n = args.steps * args.batch
    print(f"model {args.model} {args.img_size}px batch {args.batch} x {args.steps} steps on {device}, {args.rounds} rounds")
    print(f"  main.train_one_epoch : {n / statistics.median(t_ours):9.1f} img/s (median {statistics.median(t_ours):.3f} s)")
    print(f"  raw PyTorch loop     : {n / statistics.median(t_raw):9.1f} img/s (median {statistics.median(t_raw):.3f} s)")
    print(f"  time ratio ours/raw  : {statistics.median(ratios):.3f}x (median of {args.rounds}; target <= 1.05x)")


if __name__ == "__main__":
    main()
