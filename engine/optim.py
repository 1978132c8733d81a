"""Optimizer and learning-rate schedule from the config (timm's schedulers, per optimizer step)."""
from __future__ import annotations

import math

import torch
from torch import nn

from config import ConfigError


def param_groups(model: nn.Module, weight_decay: float, no_decay_bias_norm: bool) -> list[dict]:
    """Two groups: weights that decay, and biases/norms/embeddings/tokens that do not.

    Args:
        model: the model whose trainable parameters are grouped.
        weight_decay: decay of the first group.
        no_decay_bias_norm: when False, every parameter decays.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or name.endswith(".bias") or "pos_embed" in name or "cls_token" in name
        (no_decay if no_decay_bias_norm and skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(cfg, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, L2 decay), Adam (L2 decay) or AdamW (decoupled decay) from ``TRAIN.*``."""
    t = cfg.TRAIN
    groups = param_groups(model, t.WEIGHT_DECAY, t.NO_DECAY_BIAS_NORM)
    name = t.OPTIMIZER.lower()
    if name == "sgd":
        return torch.optim.SGD(groups, lr=t.LR, momentum=t.MOMENTUM, nesterov=False)
    if name == "adam":
        return torch.optim.Adam(groups, lr=t.LR, betas=tuple(t.BETAS), eps=t.EPS)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=t.LR, betas=tuple(t.BETAS), eps=t.EPS)
    raise ConfigError(f"Unknown optimizer {t.OPTIMIZER!r} (TRAIN.OPTIMIZER). Use one of: sgd, adam, adamw.")


def steps_per_epoch(batches_per_epoch: int, accumulation_steps: int) -> int:
    """Optimizer steps in one epoch: one per ``accumulation_steps`` micro-batches, plus one for the
    epoch's last, shorter group (as timm's and Hugging Face's trainers step): ``ceil(batches / accum)``."""
    return max(1, math.ceil(batches_per_epoch / accumulation_steps))


def total_steps(cfg, batches_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps in the whole run, epochs to loop over) for epoch- or step-based runs."""
    per_epoch = steps_per_epoch(batches_per_epoch, cfg.TRAIN.ACCUMULATION_STEPS)
    if cfg.TRAIN.STEPS > 0:
        return cfg.TRAIN.STEPS, -(-cfg.TRAIN.STEPS // per_epoch)
    return cfg.TRAIN.EPOCHS * per_epoch, cfg.TRAIN.EPOCHS


def warmup_steps(cfg, batches_per_epoch: int) -> int:
    """Warmup length in optimizer steps, in epoch- and in step-based runs alike:
    ``TRAIN.WARMUP_STEPS`` when > 0, else ``TRAIN.WARMUP_EPOCHS`` converted to steps (rounded).
    A warmup longer than the run raises ConfigError."""
    t = cfg.TRAIN
    per_epoch = steps_per_epoch(batches_per_epoch, t.ACCUMULATION_STEPS)
    warmup = t.WARMUP_STEPS if t.WARMUP_STEPS > 0 else int(round(t.WARMUP_EPOCHS * per_epoch))
    steps, _ = total_steps(cfg, batches_per_epoch)
    if warmup > steps:
        source = f"TRAIN.WARMUP_STEPS {t.WARMUP_STEPS}" if t.WARMUP_STEPS > 0 else f"TRAIN.WARMUP_EPOCHS {t.WARMUP_EPOCHS}"
        raise ConfigError(
            f"The warmup ({warmup} optimizer steps, from {source}) is longer than the run ({steps} steps, "
            f"{per_epoch} per epoch); shorten the warmup or lengthen TRAIN.EPOCHS / TRAIN.STEPS.")
    return warmup


def build_scheduler(cfg, optimizer: torch.optim.Optimizer, batches_per_epoch: int):
    """A timm scheduler; ``step_update(s)`` before optimizer step ``s`` (1, 2, ..., total) sets its LR.

    Semantics (the ViT fine-tuning recipe, timm's schedulers with ``warmup_prefix=True``): with
    ``W`` warmup steps of ``T``, step ``s <= W`` runs at ``WARMUP_LR + s / W x (LR - WARMUP_LR)``, so
    the first step is above ``WARMUP_LR`` and step ``W`` runs at the base ``TRAIN.LR``; steps after
    it follow the decay over the remaining ``T - W`` steps, ``MIN_LR + (LR - MIN_LR) x 0.5 x (1 +
    cos(pi x (s - W) / (T - W)))`` for cosine, reaching ``MIN_LR`` at step ``T``. Linear decays the
    same way with ``1 - (s - W) / (T - W)``; constant stays at ``TRAIN.LR``. For 10 warmup steps of
    40 at base 0.01: 0.001 at step 1, 0.01 at step 10, 0.0099726 at step 11. A run that is all
    warmup (``W == T``) ends at the base LR.
    """
    from timm.scheduler import CosineLRScheduler, PolyLRScheduler, StepLRScheduler

    t = cfg.TRAIN
    steps, _ = total_steps(cfg, batches_per_epoch)
    warmup = warmup_steps(cfg, batches_per_epoch)
    common = dict(warmup_t=warmup, warmup_lr_init=t.WARMUP_LR, warmup_prefix=True, t_in_epochs=False)
    name = t.LR_SCHEDULER.lower()
    if name == "cosine":
        return CosineLRScheduler(optimizer, t_initial=max(1, steps - warmup), lr_min=t.MIN_LR, **common)
    if name == "linear":
        return PolyLRScheduler(optimizer, t_initial=max(1, steps - warmup), power=1.0, lr_min=t.MIN_LR, **common)
    if name == "constant":
        return StepLRScheduler(optimizer, decay_t=steps + 1, decay_rate=1.0, **common)
    raise ConfigError(f"Unknown schedule {t.LR_SCHEDULER!r} (TRAIN.LR_SCHEDULER). Use cosine, linear or constant.")
