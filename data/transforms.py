"""Config-driven image transforms (torchvision v2 + timm) and the batch-level mixup/cutmix.

Every transform takes a PIL image or a uint8 tensor ``[3, H, W]``. Geometry and colour steps
run on uint8 (cheap). By default the transform ends with the conversion to float and the
normalization, ``float32 [3, IMG_SIZE, IMG_SIZE]``; with ``normalize=False`` (what the loaders use)
it stops at ``uint8 [3, IMG_SIZE, IMG_SIZE]`` and ``data.device.DeviceNormalize`` finishes the whole
batch on the device.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from timm.data import Mixup
from timm.data.auto_augment import rand_augment_transform
from timm.data.random_erasing import RandomErasing
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2
from yacs.config import CfgNode

_INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


class ToFloatNormalize(torch.nn.Module):
    """uint8 image(s) ``[..., 3, H, W]`` -> float32 normalized, ``(x / 255 - mean) / std``.

    One float conversion and two in-place passes; ``v2.ToDtype(scale=True)`` followed by
    ``v2.Normalize`` makes four passes over the float image, which dominates fast loaders.
    Float input (already in 0..1) is normalized the ordinary way.

    Args:
        mean: per-channel mean of pixel values in 0..1.
        std: per-channel std of pixel values in 0..1.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.mean, self.std = list(mean), list(std)
        self.shift = torch.tensor(self.mean).view(3, 1, 1) * 255  # [3, 1, 1]
        self.scale = 1.0 / (torch.tensor(self.std).view(3, 1, 1) * 255)  # [3, 1, 1]

    def forward(self, img: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Normalize ``img``; into ``out`` (float32, same shape) when given, e.g. shared memory."""
        img = img.as_subclass(torch.Tensor)  # plain tensor, whatever came in
        if img.is_floating_point():
            img = v2.functional.normalize(img.float().contiguous(), self.mean, self.std)
            return img if out is None else out.copy_(img)
        out = torch.empty(img.shape, dtype=torch.float32) if out is None else out  # contiguous NCHW
        # one copy converts the dtype and, for a channels-last batch, the layout at the same time
        return out.copy_(img).sub_(self.shift).mul_(self.scale)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


# Steps without randomness: a transform made only of these may run on a whole batch at once.
_DETERMINISTIC = (v2.ToImage, v2.Resize, v2.CenterCrop, v2.ToDtype, v2.Normalize, v2.ToPureTensor, ToFloatNormalize)


def interpolation(cfg: CfgNode) -> InterpolationMode:
    """The ``DATA.INTERPOLATION`` mode; an unknown name raises a ValueError listing the valid ones."""
    name = cfg.DATA.INTERPOLATION
    if name not in _INTERPOLATIONS:
        raise ValueError(
            f"DATA.INTERPOLATION {name!r} is not supported; use one of {', '.join(_INTERPOLATIONS)}."
        )
    return _INTERPOLATIONS[name]


def resolve_mean_std(cfg: CfgNode, mean: Sequence[float], std: Sequence[float]) -> tuple[list[float], list[float]]:
    """``DATA.MEAN``/``DATA.STD`` when set, else the dataset's defaults ``mean``/``std``.

    Args:
        cfg: the run config.
        mean: the dataset's default per-channel mean (pixel values in 0..1).
        std: the dataset's default per-channel std.
    """
    out = []
    for key, value, default in (("MEAN", cfg.DATA.MEAN, mean), ("STD", cfg.DATA.STD, std)):
        value = list(value) or list(default)
        if len(value) != 3 or (key == "STD" and min(value) <= 0):
            raise ValueError(
                f"DATA.{key} {list(cfg.DATA[key])!r} must hold 3 per-channel values (RGB)"
                f"{', all > 0' if key == 'STD' else ''}, or be empty to use the dataset's own."
            )
        out.append([float(v) for v in value])
    return out[0], out[1]


def build_transform(cfg: CfgNode, train: bool, mean: Sequence[float], std: Sequence[float],
                    normalize: bool = True) -> v2.Compose:
    """The image transform for the train split (``train=True``) or for val/test.

    Train: resize (or ``AUG.RANDOM_RESIZED_CROP``), padded random crop, flip, colour jitter,
    timm RandAugment, then float + normalize, then timm random erasing, each only when its
    ``AUG`` key turns it on. Eval: resize the shorter side to ``DATA.IMG_SIZE``, center crop,
    float + normalize.

    Args:
        cfg: the run config (``DATA.IMG_SIZE``, ``DATA.INTERPOLATION``, ``AUG.*``).
        train: build the augmenting train transform.
        mean: per-channel normalization mean (pixel values in 0..1).
        std: per-channel normalization std.
        normalize: end with float + normalize. False leaves the pixels uint8 for
            ``data.device.DeviceNormalize(mean, std)`` to finish on the device, which gives the
            same values; except with random erasing (train, ``AUG.RANDOM_ERASE`` > 0), which
            timm applies to normalized images, so that transform normalizes anyway.

    Returns:
        A ``v2.Compose`` mapping a PIL image or uint8 tensor [3, H, W] to float32 [3, S, S]
        (uint8 [3, S, S] when ``normalize`` is False and there is no random erasing).
    """
    size, interp, aug = cfg.DATA.IMG_SIZE, interpolation(cfg), cfg.AUG
    steps: list[Callable] = [v2.ToImage()]
    if train and aug.RANDOM_RESIZED_CROP:
        steps.append(v2.RandomResizedCrop(size, interpolation=interp, antialias=True))
    else:
        steps += [v2.Resize(size, interpolation=interp, antialias=True), v2.CenterCrop(size)]
    if train:
        if aug.RANDOM_CROP_PADDING > 0:
            steps.append(v2.RandomCrop(size, padding=aug.RANDOM_CROP_PADDING))
        if aug.HFLIP > 0:
            steps.append(v2.RandomHorizontalFlip(aug.HFLIP))
        if aug.COLOR_JITTER > 0:
            steps.append(v2.ColorJitter(aug.COLOR_JITTER, aug.COLOR_JITTER, aug.COLOR_JITTER))
        if aug.RAND_AUGMENT:
            hparams = dict(translate_const=int(size * 0.45), img_mean=tuple(round(255 * m) for m in mean))
            steps += [v2.ToPILImage(), rand_augment_transform(aug.RAND_AUGMENT, hparams), v2.ToImage()]
    erase = train and aug.RANDOM_ERASE > 0
    if normalize or erase:
        steps.append(ToFloatNormalize(mean, std))
    else:
        steps.append(v2.ToPureTensor())  # a plain uint8 tensor, not a tv_tensors.Image
    if erase:
        steps.append(RandomErasing(aug.RANDOM_ERASE, mode="pixel", device="cpu"))
    return v2.Compose(steps)


def is_batchable(transform: Callable) -> bool:
    """Whether ``transform`` is a ``v2.Compose`` without random steps, so that it may transform
    a whole uint8 batch ``[B, 3, H, W]`` at once, ending with ``ToFloatNormalize`` (float out) or
    ``v2.ToPureTensor`` (uint8 out)."""
    return (isinstance(transform, v2.Compose) and isinstance(transform.transforms[-1], (ToFloatNormalize, v2.ToPureTensor))
            and all(isinstance(t, _DETERMINISTIC) for t in transform.transforms))


def build_mixup(cfg: CfgNode, num_classes: int) -> Mixup | None:
    """timm's batch-level mixup/cutmix from ``AUG.*`` (label smoothing from ``TRAIN.LABEL_SMOOTHING``).

    Args:
        cfg: the run config.
        num_classes: classes of the dataset (for the soft targets).

    Returns:
        A ``timm.data.Mixup`` (call as ``images, soft_targets = mixup_fn(images, labels)``; the
        batch size must be even), or None when ``AUG.MIXUP`` and ``AUG.CUTMIX`` are both 0.
    """
    aug = cfg.AUG
    if aug.MIXUP <= 0 and aug.CUTMIX <= 0:
        return None
    return Mixup(
        mixup_alpha=aug.MIXUP,
        cutmix_alpha=aug.CUTMIX,
        prob=aug.MIXUP_PROB,
        switch_prob=aug.MIXUP_SWITCH_PROB,
        mode=aug.MIXUP_MODE,
        label_smoothing=cfg.TRAIN.LABEL_SMOOTHING,
        num_classes=num_classes,
    )
