"""Perceiver (Jaegle et al., 2021) for image classification, from the ``perceiver-pytorch`` package.

Three sizes, registered as ``MODEL.NAME`` ``perceiver_m``, ``perceiver_l`` and ``perceiver_xl``
(about 0.4M, 1.1M and 4.5M parameters with 10 classes, the Medium / Large / XLarge range of
the course report). The same model takes any image size: pixels are tokens with Fourier
position features, whose top frequency follows ``DATA.IMG_SIZE`` (Nyquist: half the side).
``MODEL.DROP_RATE`` is the dropout of the attention and feed-forward layers (0.2 in the report).
No pretrained image Perceiver is public, so these train from scratch only.
"""
from __future__ import annotations

from torch import Tensor, nn

from models.registry import register_model

# Hyperparameters of perceiver_pytorch.Perceiver per size; input_channels, num_classes,
# max_freq and dropout come from the config.
PERCEIVER_SIZES: dict[str, dict] = {
    "m": dict(depth=2, num_latents=32, latent_dim=64, cross_heads=1, latent_heads=4,
              cross_dim_head=32, latent_dim_head=16, num_freq_bands=6, self_per_cross_attn=2),
    "l": dict(depth=4, num_latents=64, latent_dim=96, cross_heads=1, latent_heads=4,
              cross_dim_head=48, latent_dim_head=24, num_freq_bands=8, self_per_cross_attn=1),
    "xl": dict(depth=6, num_latents=128, latent_dim=128, cross_heads=1, latent_heads=8,
               cross_dim_head=64, latent_dim_head=16, num_freq_bands=10, self_per_cross_attn=2),
}


class PerceiverClassifier(nn.Module):
    """``perceiver_pytorch.Perceiver`` fed with ``[B, C, H, W]`` images like every model here.

    Args:
        img_size: side of the input images (sets the top Fourier frequency to ``img_size / 2``).
        num_classes: classifier outputs.
        in_chans: image channels.
        dropout: attention and feed-forward dropout.
        **size: :data:`PERCEIVER_SIZES` entry (depth, latents, heads, ...).
    """

    def __init__(self, img_size: int, num_classes: int, in_chans: int = 3, dropout: float = 0.0, **size) -> None:
        super().__init__()
        try:
            from perceiver_pytorch import Perceiver
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError(
                "MODEL.NAME perceiver_* needs the 'perceiver-pytorch' package: pip install perceiver-pytorch "
                "(it is in requirements.txt; run `make setup`)."
            ) from e
        self.perceiver = Perceiver(input_channels=in_chans, input_axis=2, max_freq=img_size / 2,
                                   num_classes=num_classes, attn_dropout=dropout, ff_dropout=dropout, **size)

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C): the package wants channels last
        return self.perceiver(x)  # (B, num_classes)


def _perceiver(size: str, cfg, num_classes: int) -> nn.Module:
    return PerceiverClassifier(cfg.DATA.IMG_SIZE, num_classes, dropout=cfg.MODEL.DROP_RATE, **PERCEIVER_SIZES[size])


@register_model("perceiver_m")
def perceiver_m(cfg, num_classes: int) -> nn.Module:
    """Perceiver, Medium (about 0.4M parameters)."""
    return _perceiver("m", cfg, num_classes)


@register_model("perceiver_l")
def perceiver_l(cfg, num_classes: int) -> nn.Module:
    """Perceiver, Large (about 1.1M parameters)."""
    return _perceiver("l", cfg, num_classes)


@register_model("perceiver_xl")
def perceiver_xl(cfg, num_classes: int) -> nn.Module:
    """Perceiver, XLarge (about 4.5M parameters)."""
    return _perceiver("xl", cfg, num_classes)
