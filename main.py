"""Train, validate and evaluate a model from a config.

    python main.py --cfg configs/lenet_digits.yaml [--opts KEY VALUE ...]
    python main.py --cfg CFG --resume output/<run>/checkpoint_last.pth     # exact resume
    python main.py --cfg CFG --resume CKPT --eval                          # validate + submission.csv into <run>/eval/
    python main.py --cfg CFG --throughput                                  # images/s per batch size
    torchrun --nproc_per_node 2 main.py --cfg CFG                          # data parallel (gloo on CPU)

The run folder ``OUTPUT/RUN_NAME`` receives config.yaml, log.txt, metrics.jsonl, checkpoints,
curves.png, submission.csv and test_logits.npy; ``--eval`` and ``--throughput`` write into its
``eval/`` and ``throughput/`` sub-folders instead. ``--resume`` continues the same run exactly
and refuses a config that differs from the checkpoint's (see ``check_resume``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from config import ConfigError, add_config_args, check_model_input, load_config
from data.base import DatasetError
from data.build import build_loader, set_train_epoch
from data.device import to_device
from engine import distributed as dist_utils
from engine.checkpoint import CheckpointMismatchError, CheckpointNotFoundError, load_checkpoint, rank_rng_states, save_checkpoint
from engine.optim import build_optimizer, build_scheduler, total_steps
from engine.profile import count_flops, count_parameters, measure_throughput, peak_memory_mb
from engine.registry import UnknownNameError
from engine.resume import (TrainingInterrupted, TrainState, check_resume, load_weights_file, restore,
                           restore_metrics, resume_hint)
from engine.run_log import RunRecorder, make_logger
from engine.submission import write_submission
from models.build import build_model
from models.vit_zoo import FusedAttentionError, PretrainedWeightsError

# Mistakes in what the user asked for (config, data path, names, weights, checkpoint): the CLI
# prints their message, which names the value and the fix, without a traceback.
USER_ERRORS = (ConfigError, DatasetError, UnknownNameError, PretrainedWeightsError, CheckpointNotFoundError,
               CheckpointMismatchError, FusedAttentionError)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--resume", default="", metavar="CKPT", help="continue from this checkpoint")
    mode = parser.add_mutually_exclusive_group()  # each writes its own sub-folder; together one was dropped unsaid
    mode.add_argument("--eval", action="store_true", help="only validate and predict the test set")
    mode.add_argument("--throughput", action="store_true", help="measure images/s and exit")
    return parser.parse_args(argv)


def pick_device(name: str) -> torch.device:
    """``auto`` picks cuda (this process's local rank under torchrun), then mps, then cpu."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(cfg, device: torch.device):
    """The mixed-precision context for ``TRAIN.AMP`` (a no-op for ``none``)."""
    if cfg.TRAIN.AMP == "none":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[cfg.TRAIN.AMP]
    return torch.autocast(device_type=device.type, dtype=dtype)


def progress_off(cfg) -> bool | None:
    """tqdm's ``disable``: off when asked or on other ranks; None lets tqdm hide bars when not on a terminal."""
    return True if not (cfg.PROGRESS and dist_utils.is_main_process()) else None


def run_dir(cfg) -> str:
    name = cfg.RUN_NAME or f"{cfg.MODEL.NAME}_{cfg.DATA.DATASET}"
    return os.path.join(cfg.OUTPUT, name)


def train_one_epoch(model, loader, optimizer, scheduler, scaler, mixup_fn, cfg, device, state: TrainState,
                    max_steps: int, log) -> dict:
    """One pass over the train loader; returns mean loss, accuracy (on the unmixed labels), speed and
    ``lr``, the learning rate of the epoch's last optimizer step.

    Steps the optimizer every ``TRAIN.ACCUMULATION_STEPS`` micro-batches and on the epoch's last
    micro-batch (a shorter last group, as timm's and Hugging Face's trainers do; each micro-batch's
    loss is divided by the size of its group, so every group's gradient is a mean). Clips the global
    gradient norm first when ``TRAIN.CLIP_GRAD`` > 0. Before optimizer step ``s`` the schedule is set
    to its value at ``s`` (``scheduler.step_update(s)``, see ``engine.optim.build_scheduler``).
    Stops early once ``max_steps`` optimizer steps have been taken.
    """
    model.train()
    accum = cfg.TRAIN.ACCUMULATION_STEPS
    n_batches = len(loader)
    loss_sum = torch.zeros((), device=device)  # summed on the device: no host sync per step
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, lr = 0, optimizer.param_groups[0]["lr"]
    start = time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {state.epoch + 1} train", leave=False, disable=progress_off(cfg))
    optimizer.zero_grad(set_to_none=True)
    for i, (images, labels) in enumerate(bar):
        images, labels = to_device(images, device, loader), labels.to(device, non_blocking=True)
        targets = labels
        if mixup_fn is not None:
            images, targets = mixup_fn(images, labels)
        group = min(accum, n_batches - i // accum * accum)  # micro-batches in this optimizer step
        last_micro = (i + 1) % accum == 0 or i + 1 == n_batches
        sync = model.no_sync() if (not last_micro and isinstance(model, nn.parallel.DistributedDataParallel)) \
            else contextlib.nullcontext()
        with sync:
            with autocast(cfg, device):
                logits = model(images)
                loss = F.cross_entropy(logits.float(), targets, label_smoothing=cfg.TRAIN.LABEL_SMOOTHING
                                       if mixup_fn is None else 0.0)
            scaler.scale(loss / group).backward()
        if last_micro:
            optimizer_step(model, optimizer, scheduler, scaler, cfg, state)
            lr = optimizer.param_groups[0]["lr"]
        n = images.shape[0]
        loss_sum += loss.detach() * n
        correct += (logits.argmax(1) == labels).sum()
        seen += n
        if cfg.PRINT_FREQ and (i + 1) % cfg.PRINT_FREQ == 0:
            log(f"epoch {state.epoch + 1} step {state.step} loss {loss.item():.4f} lr {lr:.3g}")
        if not bar.disable:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if last_micro and state.step >= max_steps:
            break
    elapsed = time.perf_counter() - start
    loss_sum, correct, seen = dist_utils.all_reduce_sum([loss_sum.item(), correct.item(), seen], device)
    return {"lr": lr, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
            "epoch_time": elapsed, "images_per_sec": seen / elapsed}


def optimizer_step(model, optimizer, scheduler, scaler, cfg, state: TrainState) -> None:
    """Optimizer step ``state.step + 1`` at the schedule's LR for that step, after optional clipping."""
    scheduler.step_update(state.step + 1)
    if cfg.TRAIN.CLIP_GRAD > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), cfg.TRAIN.CLIP_GRAD)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    state.step += 1


@torch.no_grad()
def predict(model, loader, cfg, device, desc: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The one evaluation pass: (logits [N, C] float32, labels [N]) in dataset order, on the CPU."""
    model.eval()
    all_logits, all_labels = [], []
    for images, labels in tqdm(loader, desc=desc, leave=False, disable=progress_off(cfg)):
        with autocast(cfg, device):
            logits = model(to_device(images, device, loader))
        all_logits.append(logits.float().cpu())
        all_labels.append(torch.as_tensor(labels).cpu())
    logits = torch.cat(all_logits) if all_logits else torch.empty(0)
    labels = torch.cat(all_labels) if all_labels else torch.empty(0, dtype=torch.long)
    return dist_utils.gather_strided(logits), dist_utils.gather_strided(labels)


def accuracy_metrics(logits: torch.Tensor, labels: torch.Tensor, prefix: str) -> dict:
    """Loss, top-1 and top-5 accuracy (fractions) of logits against labels."""
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices  # (N, k)
    hits = top == labels[:, None]
    return {f"{prefix}_loss": F.cross_entropy(logits, labels).item(),
            f"{prefix}_acc": hits[:, 0].float().mean().item(),
            f"{prefix}_acc5": hits.any(1).float().mean().item()}


def validate(model, loader, cfg, device) -> dict:
    """Validation loss and accuracies from one pass over the val split."""
    logits, labels = predict(model, loader, cfg, device, "val")
    return accuracy_metrics(logits, labels, "val")


def evaluate(model, loader, cfg, device, out_dir: str, num_classes: int, log) -> dict:
    """Predict the test split; write ``submission.csv`` (and ``test_logits.npy``); score it when labeled."""
    logits, labels = predict(model, loader, cfg, device, "test")
    metrics = {}
    if dist_utils.is_main_process():
        write_submission(os.path.join(out_dir, "submission.csv"), logits.argmax(1).numpy(), num_classes)
        if cfg.EVAL.SAVE_LOGITS:
            np.save(os.path.join(out_dir, "test_logits.npy"), logits.numpy())
        log(f"wrote {os.path.join(out_dir, 'submission.csv')} ({len(logits)} rows)")
    if len(labels) and (labels >= 0).all():
        metrics = accuracy_metrics(logits, labels, "test")
        log(f"test loss {metrics['test_loss']:.4f} acc {metrics['test_acc']:.4f}")
    return metrics


def throughput(model, cfg, device, log) -> list[dict]:
    """Images/second for inference and training at batch sizes 1, 2, 4, ... up to
    ``EVAL.THROUGHPUT_MAX_BATCH`` or the largest batch that fits in memory, under ``TRAIN.AMP``."""
    return measure_throughput(model, cfg.DATA.IMG_SIZE, device, cfg.EVAL.THROUGHPUT_MAX_BATCH, log=log,
                              autocast=lambda: autocast(cfg, device))


def checkpoint_state(model, optimizer, scheduler, scaler, state: TrainState, cfg) -> dict:
    """Everything an exact resume needs. A collective under DDP (every rank's RNG states are
    gathered), so every rank calls it; only rank 0 writes the result."""
    return {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
            "train_state": vars(state), "rng": rank_rng_states(), "config": cfg.dump()}


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def save_epoch(out_dir: str, ckpt: dict, state: TrainState, cfg, is_best: bool, last: bool) -> None:
    save_checkpoint(os.path.join(out_dir, "checkpoint_last.pth"), ckpt)
    if is_best:
        save_checkpoint(os.path.join(out_dir, "checkpoint_best.pth"), ckpt)
    if cfg.SAVE_FREQ and (state.epoch % cfg.SAVE_FREQ == 0 or last):
        save_checkpoint(os.path.join(out_dir, f"checkpoint_epoch{state.epoch:03d}.pth"), ckpt)


def write_config(out_dir: str, cfg, main_proc: bool) -> None:
    """The run folder's ``config.yaml``: what this run trains (or evaluates) with."""
    if main_proc:
        with open(os.path.join(out_dir, "config.yaml"), "w") as f:
            f.write(cfg.dump())


# What a training run writes only when it ends. A run that starts (or resumes) in a folder removes the
# previous run's copies first, so an interrupted run never shows another run's test accuracy, epoch
# count or submission next to its own config and metrics (``research claims`` reads results.json).
END_OF_RUN_FILES = ("results.json", "submission.csv", "test_logits.npy", "curves.png")


def clear_end_of_run_files(out_dir: str) -> None:
    for name in END_OF_RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out_dir, name))


def check_eval(args, cfg) -> None:
    """``--eval`` needs trained weights: a checkpoint (``--resume``) or ``MODEL.PRETRAINED``."""
    if args.eval and not args.resume and not cfg.MODEL.PRETRAINED:
        raise ConfigError("--eval needs weights to evaluate, else it scores a random model: pass --resume "
                          "output/<run>/checkpoint_best.pth, or --opts MODEL.PRETRAINED <file or timm tag>.")


def output_dir(cfg, args) -> str:
    """The run folder; ``--eval`` and ``--throughput`` write into their own sub-folder of it
    (``eval/``, ``throughput/``) so they never overwrite a training run's files."""
    base = run_dir(cfg)
    if args.eval:
        return os.path.join(base, "eval")
    if args.throughput:
        return os.path.join(base, "throughput")
    return base


def run_eval(model, data, cfg, device, out_dir: str, num_classes: int, log) -> dict:
    """``--eval``: validate; predict the test split when ``EVAL.SUBMISSION``; results into ``out_dir``."""
    results = validate(model, data.val, cfg, device)
    log(f"val loss {results['val_loss']:.4f} acc {results['val_acc']:.4f} acc5 {results['val_acc5']:.4f}")
    if cfg.EVAL.SUBMISSION:
        results.update(evaluate(model, data.test, cfg, device, out_dir, num_classes, log))
    if dist_utils.is_main_process():
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
    return results


def fit(model, data, optimizer, scheduler, scaler, cfg, device, state: TrainState, out_dir: str, recorder,
        log) -> TrainState:
    """Train epoch after epoch until the run's length; validate, log and checkpoint after each.

    The record goes into the checkpoint's history before the checkpoint is written, and into
    ``metrics.jsonl`` after, so a resume always finds the checkpoint's epochs there.
    """
    max_steps, epochs = total_steps(cfg, len(data.train))
    main_proc = dist_utils.is_main_process()
    while state.epoch < epochs and state.step < max_steps:
        set_train_epoch(data, state.epoch, cfg.SEED)
        stats = train_one_epoch(model, data.train, optimizer, scheduler, scaler, data.mixup_fn, cfg, device,
                                state, max_steps, log)
        state.epoch += 1
        last = state.epoch >= epochs or state.step >= max_steps
        if state.epoch % cfg.TRAIN.VAL_FREQ == 0 or last:
            stats.update(validate(model, data.val, cfg, device))
        is_best = "val_acc" in stats and (state.best_epoch == 0 or stats["val_acc"] > state.best_acc)
        if is_best:
            state.best_acc, state.best_epoch = stats["val_acc"], state.epoch
        record = {"epoch": state.epoch, "step": state.step, **stats, "peak_mem_mb": peak_memory_mb(device)}
        state.history.append(record)
        ckpt = checkpoint_state(model, optimizer, scheduler, scaler, state, cfg)
        if main_proc:
            save_epoch(out_dir, ckpt, state, cfg, is_best, last)
            recorder.log_epoch(record)
            log(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
    return state


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.cfg, args.opts)
    check_model_input(cfg)
    check_eval(args, cfg)
    ckpt = load_checkpoint(args.resume) if args.resume else None
    changes = check_resume(ckpt, cfg, args.resume, args.eval) if ckpt is not None else []
    device = pick_device(cfg.DEVICE)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    distributed = dist_utils.init_distributed(device)
    seed_everything(cfg.SEED + dist_utils.rank())
    if cfg.DETERMINISTIC:
        torch.use_deterministic_algorithms(True, warn_only=True)

    out_dir = output_dir(cfg, args)
    main_proc = dist_utils.is_main_process()
    if main_proc:
        os.makedirs(out_dir, exist_ok=True)
    logger = make_logger(out_dir if main_proc else None)
    log = logger.info if main_proc else (lambda *_: None)
    for line in changes:
        log(line)

    data = build_loader(cfg, distributed=distributed)
    num_classes = cfg.MODEL.NUM_CLASSES or data.num_classes
    model = build_model(cfg, num_classes).to(device)
    if ckpt is None:
        load_weights_file(model, cfg, log)
    if cfg.MODEL.CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last)
    n_params = count_parameters(model)
    flops = count_flops(model, cfg.DATA.IMG_SIZE, device) if main_proc else None
    log(f"{cfg.MODEL.NAME}: {n_params:,} parameters, "
        f"{'?' if flops is None else f'{flops / 1e9:.3f}'} GFLOPs (multiply-adds) per {cfg.DATA.IMG_SIZE}px image; "
        f"{cfg.DATA.DATASET}: {num_classes} classes, {len(data.train.dataset)} train / "
        f"{len(data.val.dataset)} val / {len(data.test.dataset)} test images; device {device}")

    if args.throughput:
        write_config(out_dir, cfg, main_proc)
        return {"throughput": throughput(model, cfg, device, log)}

    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, len(data.train))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.TRAIN.AMP == "fp16")
    state = TrainState()
    if ckpt is not None:
        state = restore(ckpt, model, optimizer, scaler, args.resume, args.eval, log)
        log(f"{'evaluating' if args.eval else 'resumed from'} {args.resume} (epoch {state.epoch}, step {state.step})")
    # Written once everything is built, so a run that stops on a bad value (optimizer name, warmup
    # length, data split) leaves the config.yaml of the run already in the folder as it was.
    write_config(out_dir, cfg, main_proc)
    if cfg.MODEL.COMPILE:
        model = torch.compile(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    if args.eval:
        return run_eval(model, data, cfg, device, out_dir, num_classes, log)

    if main_proc and ckpt is not None:
        restore_metrics(out_dir, state)
    if main_proc:
        clear_end_of_run_files(out_dir)
    recorder = RunRecorder(out_dir, cfg, append=ckpt is not None) if main_proc else None
    if recorder:
        recorder.summary({"parameters": n_params, "flops": flops})
    finished = False  # fit works on `state` in place, so an interrupt sees the epochs done
    try:
        state = fit(model, data, optimizer, scheduler, scaler, cfg, device, state, out_dir, recorder, log)
        finished = True
        results = {"best_val_acc": state.best_acc, "epochs": state.epoch, "steps": state.step}
        if cfg.EVAL.SUBMISSION:
            results.update(evaluate(model, data.test, cfg, device, out_dir, num_classes, log))
    except KeyboardInterrupt:
        raise TrainingInterrupted(resume_hint(args, out_dir, state, finished)) from None
    if main_proc:
        recorder.summary(results)
        recorder.close()
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        log(f"done: best val acc {state.best_acc:.4f}; run folder {out_dir}")
    if distributed:
        torch.distributed.destroy_process_group()
    return results


def cli(argv: list[str] | None = None) -> int:
    """``python main.py``: run ``main``; a mistake in the user's input prints one message and exits 2;
    Ctrl-C prints one line saying where to resume from and exits 130.

    Set ``VISION_ZOO_TRACEBACK=1`` to see the full traceback of such errors too.
    """
    try:
        main(argv)
    except USER_ERRORS as e:
        if os.environ.get("VISION_ZOO_TRACEBACK"):
            raise
        print(f"main.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        if os.environ.get("VISION_ZOO_TRACEBACK"):
            raise
        line = str(e) if isinstance(e, TrainingInterrupted) else "interrupted before training began; this run wrote no checkpoint"
        print(f"main.py: {line}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
