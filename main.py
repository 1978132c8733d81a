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
import shlex
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from config import ConfigError, add_config_args, check_model_input, config_diff, load_config
from data.base import DatasetError
from data.build import build_loader, set_train_epoch
from engine import distributed as dist_utils
from engine.checkpoint import (CheckpointMismatchError, CheckpointNotFoundError, load_checkpoint, rank_rng_states,
                               restore_rank_rng_state, save_checkpoint)
from engine.optim import build_optimizer, build_scheduler, total_steps
from engine.profile import count_flops, count_parameters, measure_throughput, peak_memory_mb
from engine.registry import UnknownNameError
from engine.run_log import RunRecorder, make_logger
from engine.submission import write_submission
from models.build import build_model
from models.vit_zoo import PretrainedWeightsError

# Mistakes in what the user asked for (config, data path, names, weights, checkpoint): the CLI
# prints their message, which names the value and the fix, without a traceback.
USER_ERRORS = (ConfigError, DatasetError, UnknownNameError, PretrainedWeightsError, CheckpointNotFoundError,
               CheckpointMismatchError)


@dataclass
class TrainState:
    """What changes during training and is saved with each checkpoint."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best_acc: float = 0.0  # best validation top-1 so far
    history: list = field(default_factory=list)  # the metrics.jsonl records of the epochs done
    best_epoch: int = 0  # epoch of best_acc; 0 before the first validation (so a first 0.0 counts as best)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--resume", default="", metavar="CKPT", help="continue from this checkpoint")
    parser.add_argument("--eval", action="store_true", help="only validate and predict the test set")
    parser.add_argument("--throughput", action="store_true", help="measure images/s and exit")
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
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
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
            logits = model(images.to(device, non_blocking=True))
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


# Keys a resumed run may change: where and how it loads, logs and evaluates, not what it trains.
RESUME_FREE_KEYS = ("OUTPUT", "RUN_NAME", "PROGRESS", "PRINT_FREQ", "SAVE_FREQ", "WANDB.", "DATA.ROOT",
                    "DATA.DOWNLOAD", "DATA.NUM_WORKERS", "DATA.PERSISTENT_WORKERS", "DATA.PIN_MEMORY",
                    "DATA.EVAL_BATCH_SIZE", "EVAL.", "DEVICE", "TRAIN.VAL_FREQ", "MODEL.COMPILE", "DETERMINISTIC")
# Keys that extend a run: applied on resume, with the schedule rebuilt for the new length.
RESUME_LENGTH_KEYS = ("TRAIN.EPOCHS", "TRAIN.STEPS")
# Keys that decide the shape of a checkpoint's weights: --eval refuses a checkpoint that differs in them.
MODEL_KEYS = ("MODEL.NAME", "MODEL.NUM_CLASSES", "MODEL.VIT.", "MODEL.HYBRID.", "MODEL.TIMM.")


def _changes(diff: dict) -> str:
    return ", ".join(f"{k} (checkpoint {old!r}, now {new!r})" for k, (old, new) in diff.items())


def check_resume(ckpt, cfg, path: str, eval_only: bool) -> list[str]:
    """Compare the checkpoint's config with this run's; return log lines for the changes applied.

    A resume continues the same run: only output, logging, loader and evaluation keys may change,
    and ``TRAIN.EPOCHS`` / ``TRAIN.STEPS`` may grow (the schedule is rebuilt for the new length).
    Anything else raises ConfigError naming the keys and the way to do what was meant. For
    ``--eval`` only the model's keys must match.
    """
    if not (isinstance(ckpt, dict) and {"model", "config", "train_state"} <= set(ckpt)):
        raise CheckpointMismatchError(
            f"--resume {path}: not a checkpoint written by main.py (no model, config and train_state); to start "
            f"from these weights use --opts MODEL.PRETRAINED {path} without --resume.")
    diff = config_diff(ckpt["config"], cfg)
    if eval_only:
        bad = {k: v for k, v in diff.items() if k.startswith(MODEL_KEYS)}
        if bad:
            raise ConfigError(f"--eval --resume {path}: the checkpoint holds another model: {_changes(bad)}. "
                              f"Evaluate it with its run's config: --cfg <its run folder>/config.yaml.")
        return []
    bad = {k: v for k, v in diff.items() if not k.startswith(RESUME_FREE_KEYS) and k not in RESUME_LENGTH_KEYS}
    if any(k.startswith(MODEL_KEYS) for k in bad):
        raise ConfigError(
            f"--resume {path}: the checkpoint holds another model: {_changes(bad)}. Resume it with its own config "
            f"(--cfg <its run folder>/config.yaml), or train the new model as a new run (another RUN_NAME, without --resume).")
    if bad:
        raise ConfigError(
            f"--resume {path}: this run's config differs from the checkpoint's in {_changes(bad)}; a resume "
            f"continues the same run. To continue it, drop those overrides (or use --cfg <its run folder>/config.yaml); "
            f"to train with the new values from these weights, start a new run: --opts MODEL.PRETRAINED {path} "
            f"RUN_NAME <new name>, without --resume. On resume only TRAIN.EPOCHS / TRAIN.STEPS (to extend the run) "
            f"and output, logging and loader keys may change.")
    done = ckpt["train_state"]
    t = cfg.TRAIN
    if any(k in diff for k in RESUME_LENGTH_KEYS) and (
            t.STEPS <= done["step"] if t.STEPS > 0 else t.EPOCHS <= done["epoch"]):
        raise ConfigError(
            f"--resume {path}: the checkpoint has trained {done['epoch']} epochs ({done['step']} steps), so "
            f"TRAIN.EPOCHS {t.EPOCHS} / TRAIN.STEPS {t.STEPS} leaves nothing to train; give a longer run to extend it.")
    return [f"resume applies {k} {old!r} -> {new!r}" + (" (schedule rebuilt for the new length from the "
            "checkpoint's step)" if k in RESUME_LENGTH_KEYS else "") for k, (old, new) in diff.items()]


def restore(ckpt: dict, model, optimizer, scaler, path: str, eval_only: bool, log) -> TrainState:
    """Load the checkpoint into the model (and, to train on, the optimizer, scaler and this rank's
    RNG states); returns its TrainState. The schedule is a function of the step and needs no state."""
    try:
        model.load_state_dict(ckpt["model"])
        if not eval_only:
            optimizer.load_state_dict(ckpt["optimizer"])
            scaler.load_state_dict(ckpt["scaler"])
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointMismatchError(
            f"--resume {path} does not fit this run's model or optimizer ({first}); resume with the run's own "
            f"config (--cfg <its run folder>/config.yaml).") from e
    state = TrainState(**ckpt["train_state"])
    if "best_epoch" not in ckpt["train_state"] and state.epoch:  # a checkpoint from before best_epoch existed
        state.best_epoch = state.epoch
    if not eval_only and not restore_rank_rng_state(ckpt["rng"], dist_utils.rank(), dist_utils.world_size()):
        log(f"the checkpoint was written by another number of processes; random streams start fresh "
            f"(the resumed run is not bit-identical to an uninterrupted one)")
    return state


def load_weights_file(model: nn.Module, cfg, log) -> None:
    """``MODEL.PRETRAINED`` for the models whose builders do not load it (the CNNs): a local file
    holding a state dict, or a main.py checkpoint (its ``model``). Layers whose shape differs (a
    head for another number of classes) keep their initialization."""
    path = cfg.MODEL.PRETRAINED
    if not path or cfg.MODEL.NAME.startswith(("vit", "hybrid", "timm")):
        return
    if not os.path.isfile(path):
        raise ConfigError(f"MODEL.PRETRAINED {path!r} is not a file; MODEL.NAME {cfg.MODEL.NAME} loads weights only "
                          f"from a local file (a state dict or a main.py checkpoint such as output/<run>/checkpoint_best.pth).")
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise CheckpointMismatchError(f"MODEL.PRETRAINED {path!r} does not hold {cfg.MODEL.NAME} weights (its keys differ "
                                      f"from the model's); give a checkpoint of the same model.")
    kept = [k for k in own if own[k].shape != state[k].shape]
    model.load_state_dict({k: (own[k] if k in kept else state[k]) for k in own})
    log(f"loaded weights from {path}" + (f"; kept the initialization of {', '.join(kept)} (other shape)" if kept else ""))


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


def restore_metrics(out_dir: str, state: TrainState) -> None:
    """Rewrite ``metrics.jsonl`` as exactly the checkpoint's epochs (atomically): rows written after
    the checkpoint (a kill during its write) go, rows of a resumed-into folder come from it. A
    checkpoint older than its history keeps the folder's rows up to its epoch (the last row of each)."""
    path = os.path.join(out_dir, "metrics.jsonl")
    history = state.history
    if not history and state.epoch and os.path.isfile(path):
        with open(path) as f:
            rows = {r["epoch"]: r for r in map(json.loads, filter(str.strip, f)) if r.get("epoch", 0) <= state.epoch}
        history = [rows[e] for e in sorted(rows)]
    with open(f"{path}.tmp", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in history)
    os.replace(f"{path}.tmp", path)


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
        with open(os.path.join(out_dir, "config.yaml"), "w") as f:
            f.write(cfg.dump())
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
        return {"throughput": throughput(model, cfg, device, log)}

    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, len(data.train))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.TRAIN.AMP == "fp16")
    state = TrainState()
    if ckpt is not None:
        state = restore(ckpt, model, optimizer, scaler, args.resume, args.eval, log)
        log(f"{'evaluating' if args.eval else 'resumed from'} {args.resume} (epoch {state.epoch}, step {state.step})")
    if cfg.MODEL.COMPILE:
        model = torch.compile(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    if args.eval:
        return run_eval(model, data, cfg, device, out_dir, num_classes, log)

    if main_proc and ckpt is not None:
        restore_metrics(out_dir, state)
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


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where to resume from."""


def resume_hint(args, out_dir: str, state: TrainState, finished: bool = False) -> str:
    """One line: the last checkpoint and the command that resumes from it, or that there is none."""
    ckpt = os.path.join(out_dir, "checkpoint_last.pth")
    if not os.path.isfile(ckpt):
        return f"interrupted in epoch {state.epoch + 1} before the first checkpoint; nothing to resume, start again"
    opts = f" --opts {' '.join(shlex.quote(o) for o in args.opts)}" if args.opts else ""
    where = "after training, before the submission was written" if finished else f"in epoch {state.epoch + 1}"
    return (f"interrupted {where}; {ckpt} holds epoch {state.epoch}. Resume with: python main.py "
            f"--cfg {shlex.quote(args.cfg)}{opts} --resume {shlex.quote(ckpt)}")


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
