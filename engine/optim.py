"""Optimizer and learning-rate schedule from the config (timm's schedulers, per optimizer step)."""
from __future__ import annotations

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


def total_steps(cfg, batches_per_epoch: int) -> tuple[int, int]:
    """(optimizer steps in the whole run, epochs to loop over) for epoch- or step-based runs."""
    steps_per_epoch = max(1, batches_per_epoch // cfg.TRAIN.ACCUMULATION_STEPS)
    if cfg.TRAIN.STEPS > 0:
        return cfg.TRAIN.STEPS, -(-cfg.TRAIN.STEPS // steps_per_epoch)
    return cfg.TRAIN.EPOCHS * steps_per_epoch, cfg.TRAIN.EPOCHS


def build_scheduler(cfg, optimizer: torch.optim.Optimizer, batches_per_epoch: int):
    """A timm scheduler stepped once per optimizer step with ``step_update(step)``.

    Linear warmup from ``TRAIN.WARMUP_LR`` over ``TRAIN.WARMUP_STEPS`` (or ``WARMUP_EPOCHS``
    converted to steps), then cosine or linear decay to ``TRAIN.MIN_LR``, or constant.
    """
    from timm.scheduler import CosineLRScheduler, PolyLRScheduler, StepLRScheduler

    t = cfg.TRAIN
    steps, _ = total_steps(cfg, batches_per_epoch)
    steps_per_epoch = max(1, batches_per_epoch // t.ACCUMULATION_STEPS)
    warmup = t.WARMUP_STEPS if t.STEPS > 0 else int(round(t.WARMUP_EPOCHS * steps_per_epoch))
    common = dict(warmup_t=warmup, warmup_lr_init=t.WARMUP_LR, t_in_epochs=False)
    name = t.LR_SCHEDULER.lower()
    if name == "cosine":
        return CosineLRScheduler(optimizer, t_initial=steps, lr_min=t.MIN_LR, **common)
    if name == "linear":
        return PolyLRScheduler(optimizer, t_initial=steps, power=1.0, lr_min=t.MIN_LR, **common)
    if name == "constant":
        return StepLRScheduler(optimizer, decay_t=steps + 1, decay_rate=1.0, **common)
    raise ConfigError(f"Unknown schedule {t.LR_SCHEDULER!r} (TRAIN.LR_SCHEDULER). Use cosine, linear or constant.")
