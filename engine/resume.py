"""Continuing a run: the checkpoint's config against the new one, restoring its state (this
rank's RNG streams included), ``metrics.jsonl`` cut back to the checkpoint's epochs, weights from
a file for models whose builders do not load ``MODEL.PRETRAINED``, and the Ctrl-C message."""
from __future__ import annotations

import json
import os
import pickle
import shlex
from dataclasses import dataclass, field

import torch
from torch import nn

from config import ConfigError, config_diff
from engine import distributed as dist_utils
from engine.checkpoint import CheckpointMismatchError, restore_rank_rng_state


@dataclass
class TrainState:
    """What changes during training and is saved with each checkpoint."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best_acc: float = 0.0  # best validation top-1 so far
    history: list = field(default_factory=list)  # the metrics.jsonl records of the epochs done
    best_epoch: int = 0  # epoch of best_acc; 0 before the first validation (so a first 0.0 counts as best)


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
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:  # cut short, or not torch's
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise CheckpointMismatchError(f"MODEL.PRETRAINED {path!r} cannot be read ({first}); it is cut short (a copy "
                                      f"that did not finish) or not a file torch.save wrote.") from e
    state = state.get("model", state) if isinstance(state, dict) else state
    own = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        raise CheckpointMismatchError(f"MODEL.PRETRAINED {path!r} does not hold {cfg.MODEL.NAME} weights (its keys differ "
                                      f"from the model's); give a checkpoint of the same model.")
    kept = [k for k in own if own[k].shape != state[k].shape]
    model.load_state_dict({k: (own[k] if k in kept else state[k]) for k in own})
    log(f"loaded weights from {path}" + (f"; kept the initialization of {', '.join(kept)} (other shape)" if kept else ""))


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


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where to resume from."""


def resume_hint(args, out_dir: str, state: TrainState, finished: bool = False) -> str:
    """One line: the last checkpoint and the command that resumes from it, or that there is none."""
    ckpt = os.path.join(out_dir, "checkpoint_last.pth")
    if not os.path.isfile(ckpt):
        return f"interrupted in epoch {state.epoch + 1} before the first checkpoint; nothing to resume, start again"
    if state.epoch == 0 and not args.resume:  # the file there is a previous run's in the same folder
        return (f"interrupted in epoch 1 before this run's first checkpoint; nothing to resume, start again "
                f"({ckpt} is a previous run's in this folder)")
    opts = f" --opts {' '.join(shlex.quote(o) for o in args.opts)}" if args.opts else ""
    where = "after training, before the submission was written" if finished else f"in epoch {state.epoch + 1}"
    return (f"interrupted {where}; {ckpt} holds epoch {state.epoch}. Resume with: python main.py "
            f"--cfg {shlex.quote(args.cfg)}{opts} --resume {shlex.quote(ckpt)}")
