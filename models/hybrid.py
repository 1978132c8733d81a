"""Hybrid ViT (Dosovitskiy et al., 2021, Sec. 3.1): a BiT-style ResNet turns the image into a
feature map, a 1x1 convolution projects each position of that map to a token, and the same
``Encoder`` as the plain ViT classifies from a class token.

The backbone is timm's ``ResNetV2`` configured as in the paper's hybrids (weight-standardized
convolutions with "same" padding, GroupNorm, no pre-activation): three stages (R50: 3, 4, 9
blocks) stop at stride 16, four stages (R26: 2, 2, 2, 2) at stride 32. Module names equal timm's
``vit_base_r50_s16_224`` / ``vit_small_r26_s32_224`` after ``convert_timm_state_dict``, so their
weights load directly.
"""
from __future__ import annotations

from functools import partial
from typing import Optional, Sequence

import torch
from timm.layers import StdConv2dSame
from timm.models.resnetv2 import ResNetV2
from torch import nn

from models.registry import register_model
from models.vit import PatchEmbed, VisionTransformer, convert_timm_state_dict
from models.vit_zoo import ViTSize, encoder_kwargs, finish_vit


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) of an image side given as an int or a pair. Kept here, not imported from
    models/vit.py: in the handout that file is the student's, and only its contract is promised."""
    if isinstance(value, int):
        return value, value
    h, w = value
    return int(h), int(w)


class HybridPatchEmbed(PatchEmbed):
    """ResNet feature map -> ``PatchEmbed`` with 1x1 patches over that map -> tokens.

    Input [B, C, H, W] -> features [B, F, H/s, W/s] (s = 16 or 32) -> ``PatchEmbed.forward`` on
    the feature map, whose ``proj`` is a 1x1 convolution -> tokens [B, N, D], N = (H/s) * (W/s),
    row-major. The tokens come from ``PatchEmbed``'s own forward (in the handout, the student's).

    Attributes beyond ``PatchEmbed``'s: ``backbone`` (the ResNet), ``stride`` (s), and ``image_size``
    (the image's (height, width); ``img_size`` is the feature map's, as ``PatchEmbed`` sees it).

    Args:
        img_size: image side (or (height, width)), a multiple of the backbone's stride.
        layers: residual blocks per ResNet stage (3 stages: stride 16, 4 stages: stride 32).
        in_chans: image channels.
        embed_dim: token width D.
    """

    def __init__(self, img_size: int | Sequence[int], layers: Sequence[int], in_chans: int, embed_dim: int) -> None:
        if not 1 <= len(layers) <= 4:
            raise ValueError(
                f"Hybrid backbone stages {list(layers)}: give 1 to 4 stage depths "
                f"(MODEL.HYBRID.LAYERS), e.g. [3, 4, 9] for R50 at stride 16 or [2, 2, 2, 2] for R26 at stride 32."
            )
        stride = 4 * 2 ** (len(layers) - 1)  # stem /4, then /2 per stage after the first
        height, width = _pair(img_size)
        if height % stride or width % stride:
            raise ValueError(
                f"Image size {height}x{width} is not a multiple of the hybrid backbone's stride {stride} "
                f"({len(layers)} stages). Pick DATA.IMG_SIZE divisible by {stride}."
            )
        backbone = ResNetV2(  # built first, so a seed gives the same weights as before the 1x1 projection
            layers=list(layers),
            num_classes=0,
            global_pool="",
            in_chans=in_chans,
            preact=False,
            stem_type="same",
            conv_layer=partial(StdConv2dSame, eps=1e-8),
        )
        # The feature map is PatchEmbed's "image": 1x1 patches, one token per position.
        # An int side when the map is square: DESIGN.md §4 promises PatchEmbed an int img_size only,
        # and the student's constructor may accept nothing else; a pair only for non-square maps.
        grid = (height // stride, width // stride)
        super().__init__(grid[0] if grid[0] == grid[1] else grid, 1, backbone.num_features, embed_dim)
        self.backbone = backbone
        self.stride = stride
        self.image_size = (height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] images -> [B, N, D] tokens."""
        return super().forward(self.backbone(x))  # backbone: (B, F, H/s, W/s); PatchEmbed: (B, N, D)


class HybridVisionTransformer(VisionTransformer):
    """ResNet + ViT: ``HybridPatchEmbed`` tokens, a class token in front, the ViT ``Encoder``,
    and a linear head on the encoded class token. Input [B, C, H, W] -> logits [B, K].

    Only the patch embedding differs from ``VisionTransformer``, whose ``forward`` (and so, in the
    handout, the student's) runs unchanged.

    Args:
        img_size: image side (or (height, width)), a multiple of the backbone's stride.
        layers: residual blocks per ResNet stage.
        in_chans: image channels.
        num_classes: logits K.
        embed_dim, depth, num_heads, mlp_dim: the encoder's dimensions.
        dropout: dropout probability in the encoder.
        attn_dropout: dropout probability on the attention weights.
        qkv_bias: whether the qkv projections have a bias.
    """

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        layers: Sequence[int] = (3, 4, 9),
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_dim: int = 3072,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        qkv_bias: bool = True,
    ) -> None:
        patch_embed = HybridPatchEmbed(img_size, layers, in_chans, embed_dim)
        # The backbone's stride plays the patch size: same token grid, so the same encoder length.
        super().__init__(img_size, patch_embed.stride, in_chans, num_classes, embed_dim, depth, num_heads, mlp_dim,
                         dropout, attn_dropout, qkv_bias)
        self.patch_embed = patch_embed  # the ResNet keeps timm's init


def convert_timm_hybrid_state_dict(state_dict: dict) -> dict:
    """timm hybrid ViT keys -> ours. The backbone (``patch_embed.backbone.*``) and projection
    (``patch_embed.proj.*``) already share timm's names, so this is ``convert_timm_state_dict``.

    Args:
        state_dict: a timm ``vit_*_r*`` state dict.
    """
    return convert_timm_state_dict(state_dict)


def build_hybrid(cfg, num_classes: int, layers: Sequence[int], size: ViTSize, timm_arch: Optional[str]) -> nn.Module:
    """A hybrid at DATA.IMG_SIZE with pretrained weights and fused attention from the config.

    Args:
        cfg: the run's config.
        num_classes: logits of the head.
        layers: ResNet stage depths.
        size: encoder dimensions (its patch size is unused: the projection is 1x1).
        timm_arch: timm's name for the same model, for MODEL.PRETRAINED tags.
    """
    model = HybridVisionTransformer(layers=layers, **encoder_kwargs(cfg, num_classes, size))
    return finish_vit(model, cfg, timm_arch, converter=convert_timm_hybrid_state_dict)


@register_model("hybrid")
def hybrid(cfg, num_classes: int) -> nn.Module:
    """Hybrid with ResNet stages MODEL.HYBRID.LAYERS and encoder dims from MODEL.VIT.*."""
    v = cfg.MODEL.VIT
    size = ViTSize(1, v.EMBED_DIM, v.DEPTH, v.NUM_HEADS, v.MLP_DIM)
    return build_hybrid(cfg, num_classes, list(cfg.MODEL.HYBRID.LAYERS), size, None)


@register_model("hybrid_r50_b16")
def hybrid_r50_b16(cfg, num_classes: int) -> nn.Module:
    """R50+ViT-B/16: ResNet-50 stages (3, 4, 9) at stride 16, then ViT-B (timm vit_base_r50_s16_224)."""
    size = ViTSize(1, 768, 12, 12, 3072)
    return build_hybrid(cfg, num_classes, (3, 4, 9), size, "vit_base_r50_s16_224")


@register_model("hybrid_r26_s32")
def hybrid_r26_s32(cfg, num_classes: int) -> nn.Module:
    """R26+ViT-S/32: ResNet-26 stages (2, 2, 2, 2) at stride 32, then ViT-S (timm vit_small_r26_s32_224)."""
    size = ViTSize(1, 384, 12, 6, 1536)
    return build_hybrid(cfg, num_classes, (2, 2, 2, 2), size, "vit_small_r26_s32_224")
