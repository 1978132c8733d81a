"""The last step of the input pipeline, on the device: uint8 batch -> normalized float32 batch.

``build_loader``'s loaders hand over raw pixels, ``uint8 [B, 3, S, S]`` (resized, cropped and
augmented, but not normalized): a quarter of the bytes of a float batch through the workers'
shared memory, the pinned host buffer and the host-to-device copy. ``to_device`` moves such a
batch to the device and converts it there, in one place, to what the model expects::

    for images, labels in loader:
        images = to_device(images, device, loader)  # float32 [B, 3, S, S], normalized, on device

A float batch is taken to be normalized already (a hand-made batch, or a train batch with
``AUG.RANDOM_ERASE`` > 0, whose timm ``RandomErasing`` works on normalized images in the workers)
and is only moved.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["DeviceNormalize", "to_device"]


class DeviceNormalize:
    """Move a uint8 image batch to a device and normalize it there: ``(x / 255 - mean) / std``.

    The arithmetic matches ``data.transforms.ToFloatNormalize`` (the per-image CPU step), so a
    batch normalized here equals the stack of the per-image outputs to float32 round-off.

    Args:
        mean: per-channel mean of pixel values in 0..1 (3 values).
        std: per-channel std of pixel values in 0..1 (3 values, all > 0).
        channels_last: return 4-D batches in the channels-last memory format (for a model in
            ``MODEL.CHANNELS_LAST``); the values are the same either way.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], channels_last: bool = False) -> None:
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"DeviceNormalize needs 3 means and 3 positive stds (RGB); got mean {self.mean}, "
                             f"std {self.std}.")
        self.channels_last = channels_last
        shift = torch.tensor(self.mean).view(3, 1, 1) * 255  # [3, 1, 1]
        scale = 1.0 / (torch.tensor(self.std).view(3, 1, 1) * 255)  # [3, 1, 1]
        self._constants = {torch.device("cpu"): (shift, scale)}  # per device, made on first use

    def __call__(self, images: torch.Tensor, device: torch.device | str | None = None,
                 non_blocking: bool = True) -> torch.Tensor:
        """The batch on ``device`` as float32, normalized.

        Args:
            images: uint8 ``[B, 3, H, W]`` or ``[3, H, W]`` (raw pixels, any memory format), or a
                float tensor, which is taken as normalized already and only moved.
            device: where the result lives; default the device ``images`` is on.
            non_blocking: copy asynchronously from pinned host memory (CUDA); the normalization
                is queued on the same stream, so the result is ready when used.

        Returns:
            float32 ``[B, 3, H, W]``: channels-last when ``channels_last`` and 4-D; else contiguous
            (a float input keeps its layout).

        Raises:
            TypeError: ``images`` is neither uint8 nor floating point.
        """
        device = images.device if device is None else torch.device(device)
        four_d = images.ndim == 4
        layout = torch.channels_last if self.channels_last and four_d else torch.contiguous_format
        if images.is_floating_point():  # normalized already: moved (and laid out as asked) only
            images = images.to(device, non_blocking=non_blocking)
            return images.contiguous(memory_format=layout) if layout == torch.channels_last else images
        if images.dtype != torch.uint8:
            raise TypeError(f"DeviceNormalize expects a uint8 image batch (raw pixels 0..255) or an already "
                            f"normalized float batch; got dtype {images.dtype}. Convert it with .to(torch.uint8) "
                            f"or normalize it yourself.")
        images = images.to(device, non_blocking=non_blocking)  # the uint8 copy: 1 byte per pixel
        shift, scale = self._on(device)
        out = _empty_float(images.shape, device, layout)
        # one pass converts dtype and layout, then two in-place passes; nothing else is allocated
        return out.copy_(images).sub_(shift).mul_(scale)

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._constants:
            shift, scale = self._constants[torch.device("cpu")]
            self._constants[device] = (shift.to(device), scale.to(device))
        return self._constants[device]

    def __repr__(self) -> str:
        return f"DeviceNormalize(mean={self.mean}, std={self.std}, channels_last={self.channels_last})"


def _empty_float(shape: torch.Size, device: torch.device, layout: torch.memory_format) -> torch.Tensor:
    """An uninitialized float32 tensor of ``shape`` on ``device`` in ``layout``.

    On the CPU the memory comes from NumPy, which asks Linux for transparent huge pages for
    arrays of 4 MiB or more (``madvise(MADV_HUGEPAGE)``): a fresh 56 MiB batch then costs 28
    page faults instead of 14,000, which otherwise take longer than normalizing it. Elsewhere
    (CUDA, MPS) the device's caching allocator hands back recycled memory anyway.
    """
    if device.type != "cpu":
        return torch.empty(shape, dtype=torch.float32, device=device, memory_format=layout)
    if layout == torch.channels_last:
        n, c, h, w = shape
        return torch.from_numpy(np.empty((n, h, w, c), dtype=np.float32)).permute(0, 3, 1, 2)  # NHWC -> NCHW view
    return torch.from_numpy(np.empty(tuple(shape), dtype=np.float32))


def to_device(images: torch.Tensor, device: torch.device | str, loader=None, non_blocking: bool = True) -> torch.Tensor:
    """Move a batch of ``loader`` to ``device`` as the model's input (normalized float32).

    Args:
        images: the images of one batch: uint8 from ``build_loader``'s loaders, or float32
            already normalized (any other iterable of batches, e.g. a list of float tensors).
        device: the model's device.
        loader: the DataLoader the batch came from; a uint8 batch is normalized with its
            dataset's ``device_transform`` (a ``DeviceNormalize``, set by ``build_loader``).
        non_blocking: see ``DeviceNormalize``.

    Raises:
        TypeError: a uint8 batch whose loader has no ``device_transform`` (nothing says which
            mean/std to use).
    """
    normalize = getattr(getattr(loader, "dataset", None), "device_transform", None)
    if normalize is not None:
        return normalize(images, device, non_blocking)
    if images.dtype == torch.uint8:
        raise TypeError(
            "to_device got a uint8 batch but no loader whose dataset has a device_transform, so it does "
            "not know the mean/std to normalize with; pass the DataLoader from data.build.build_loader "
            "as `loader`, or normalize with data.device.DeviceNormalize(mean, std)."
        )
    return images.to(device, non_blocking=non_blocking)
