"""ViT sizes for the model registry, pretrained-weight loading, and the fused-attention switch.

Sizes follow Table 1 of the ViT paper (Base, Large, Huge) and DeiT (Tiny, Small); the name says
size and patch side: ``vit_b16`` is ViT-B/16. Small variants for 32x32 inputs (patch 4) and
64x64 inputs (patch 8) are below them. ``vit`` takes its dimensions from ``MODEL.VIT.*``.

Every factory builds the model, then ``finish_vit`` loads ``MODEL.PRETRAINED`` (a timm tag or a
local file) and turns on ``MODEL.VIT.FUSED_ATTN``. None of this is student code: grading
always runs the student's own ``models/vit.py``.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn import functional as F

from models.registry import register_model
from models.vit import MultiHeadSelfAttention, VisionTransformer, convert_timm_state_dict

log = logging.getLogger(__name__)

HEAD_KEYS = ("head.weight", "head.bias")
POS_KEY = "encoder.pos_embed.pos_embedding"
# Keys some timm / original checkpoints hold that our models have no use for.
IGNORED_PREFIXES = ("pre_logits.", "fc_norm.", "head_drop.")


@dataclass(frozen=True)
class ViTSize:
    """Dimensions of one ViT variant (``timm_arch``: timm's name for the same model, if any)."""

    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_dim: int
    timm_arch: Optional[str] = None


# Layers, hidden size D, MLP size and heads: the ViT paper's Table 1 for B/L/H, DeiT for Ti/S.
VIT_SIZES: dict[str, ViTSize] = {
    "vit_ti16": ViTSize(16, 192, 12, 3, 768, "vit_tiny_patch16_224"),
    "vit_s16": ViTSize(16, 384, 12, 6, 1536, "vit_small_patch16_224"),
    "vit_s32": ViTSize(32, 384, 12, 6, 1536, "vit_small_patch32_224"),
    "vit_b16": ViTSize(16, 768, 12, 12, 3072, "vit_base_patch16_224"),
    "vit_b32": ViTSize(32, 768, 12, 12, 3072, "vit_base_patch32_224"),
    "vit_l16": ViTSize(16, 1024, 24, 16, 4096, "vit_large_patch16_224"),
    "vit_l32": ViTSize(32, 1024, 24, 16, 4096, "vit_large_patch32_224"),
    "vit_h14": ViTSize(14, 1280, 32, 16, 5120, "vit_huge_patch14_224"),
    # 32x32 inputs (CIFAR): 8x8 = 64 patches of 4x4.
    "vit_ti4": ViTSize(4, 192, 12, 3, 768),
    "vit_s4": ViTSize(4, 384, 12, 6, 1536),
    # ViT-Lite-7/4 of Hassani et al. (2021), "Escaping the Big Data Paradigm with Compact Transformers".
    "vit_lite7_4": ViTSize(4, 256, 7, 4, 512),
    # 64x64 inputs (Tiny/Medium ImageNet): 8x8 = 64 patches of 8x8.
    "vit_ti8": ViTSize(8, 192, 12, 3, 768),
    "vit_s8": ViTSize(8, 384, 12, 6, 1536),
}


# -----------------------------------------------------------------------------------------------
# Building
# -----------------------------------------------------------------------------------------------
def build_vit(cfg, num_classes: int, size: ViTSize) -> VisionTransformer:
    """A ``VisionTransformer`` of ``size`` at ``DATA.IMG_SIZE``, with pretrained weights and the
    fused attention switch applied from the config.

    Args:
        cfg: the run's config (DATA.IMG_SIZE, MODEL.DROP_RATE, MODEL.VIT.*, MODEL.PRETRAINED).
        num_classes: logits of the head.
        size: the variant's dimensions.
    """
    model = VisionTransformer(patch_size=size.patch_size, **encoder_kwargs(cfg, num_classes, size))
    return finish_vit(model, cfg, size.timm_arch)


def encoder_kwargs(cfg, num_classes: int, size: ViTSize) -> dict:
    """The constructor arguments a ViT and a hybrid share: image size, head, encoder dimensions
    from ``size``, dropouts and qkv bias from the config.

    Args:
        cfg: the run's config (DATA.IMG_SIZE, MODEL.DROP_RATE, MODEL.VIT.*).
        num_classes: logits of the head.
        size: the encoder's dimensions (its patch size is not included).
    """
    return dict(
        img_size=cfg.DATA.IMG_SIZE,
        num_classes=num_classes,
        embed_dim=size.embed_dim,
        depth=size.depth,
        num_heads=size.num_heads,
        mlp_dim=size.mlp_dim,
        dropout=cfg.MODEL.DROP_RATE,
        attn_dropout=cfg.MODEL.VIT.ATTN_DROP_RATE,
        qkv_bias=cfg.MODEL.VIT.QKV_BIAS,
    )


def finish_vit(model: nn.Module, cfg, timm_arch: Optional[str],
               converter: Callable[[dict], dict] = convert_timm_state_dict) -> nn.Module:
    """Loads ``MODEL.PRETRAINED`` (when set) and applies ``MODEL.VIT.FUSED_ATTN``.

    Args:
        model: a freshly built ViT or hybrid.
        cfg: the run's config.
        timm_arch: timm's architecture name for this model (lets a bare tag name the weights).
        converter: maps a timm state dict to the model's key names.
    """
    if cfg.MODEL.PRETRAINED:
        load_pretrained(model, cfg.MODEL.PRETRAINED, timm_arch=timm_arch, converter=converter)
    if cfg.MODEL.VIT.FUSED_ATTN:
        set_fused_attention(model, True)
    return model


@register_model("vit")
def vit(cfg, num_classes: int) -> nn.Module:
    """ViT with the dimensions in MODEL.VIT.* (PATCH_SIZE, EMBED_DIM, DEPTH, NUM_HEADS, MLP_DIM)."""
    v = cfg.MODEL.VIT
    return build_vit(cfg, num_classes, ViTSize(v.PATCH_SIZE, v.EMBED_DIM, v.DEPTH, v.NUM_HEADS, v.MLP_DIM))


@register_model("vit_ti16")
def vit_ti16(cfg, num_classes: int) -> nn.Module:
    """ViT-Ti/16 (DeiT-Tiny dims): 12 layers, D 192, MLP 768, 3 heads."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_ti16"])


@register_model("vit_s16")
def vit_s16(cfg, num_classes: int) -> nn.Module:
    """ViT-S/16 (DeiT-Small dims): 12 layers, D 384, MLP 1536, 6 heads."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_s16"])


@register_model("vit_s32")
def vit_s32(cfg, num_classes: int) -> nn.Module:
    """ViT-S/32: 12 layers, D 384, MLP 1536, 6 heads, 32x32 patches."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_s32"])


@register_model("vit_b16")
def vit_b16(cfg, num_classes: int) -> nn.Module:
    """ViT-B/16 (paper Table 1): 12 layers, D 768, MLP 3072, 12 heads."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_b16"])


@register_model("vit_b32")
def vit_b32(cfg, num_classes: int) -> nn.Module:
    """ViT-B/32 (paper Table 1): 12 layers, D 768, MLP 3072, 12 heads, 32x32 patches."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_b32"])


@register_model("vit_l16")
def vit_l16(cfg, num_classes: int) -> nn.Module:
    """ViT-L/16 (paper Table 1): 24 layers, D 1024, MLP 4096, 16 heads."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_l16"])


@register_model("vit_l32")
def vit_l32(cfg, num_classes: int) -> nn.Module:
    """ViT-L/32 (paper Table 1): 24 layers, D 1024, MLP 4096, 16 heads, 32x32 patches."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_l32"])


@register_model("vit_h14")
def vit_h14(cfg, num_classes: int) -> nn.Module:
    """ViT-H/14 (paper Table 1): 32 layers, D 1280, MLP 5120, 16 heads, 14x14 patches."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_h14"])


@register_model("vit_ti4")
def vit_ti4(cfg, num_classes: int) -> nn.Module:
    """ViT-Ti dims with 4x4 patches, for 32x32 images."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_ti4"])


@register_model("vit_s4")
def vit_s4(cfg, num_classes: int) -> nn.Module:
    """ViT-S dims with 4x4 patches, for 32x32 images."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_s4"])


@register_model("vit_lite7_4")
def vit_lite7_4(cfg, num_classes: int) -> nn.Module:
    """ViT-Lite-7/4: 7 layers, D 256, MLP 512, 4 heads, 4x4 patches, for 32x32 images."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_lite7_4"])


@register_model("vit_ti8")
def vit_ti8(cfg, num_classes: int) -> nn.Module:
    """ViT-Ti dims with 8x8 patches, for 64x64 images."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_ti8"])


@register_model("vit_s8")
def vit_s8(cfg, num_classes: int) -> nn.Module:
    """ViT-S dims with 8x8 patches, for 64x64 images."""
    return build_vit(cfg, num_classes, VIT_SIZES["vit_s8"])


# -----------------------------------------------------------------------------------------------
# Fused attention (training speed only; never used for grading)
# -----------------------------------------------------------------------------------------------
class FusedMultiHeadSelfAttention(MultiHeadSelfAttention):
    """``MultiHeadSelfAttention`` whose whole computation runs in PyTorch's fused multi-head attention.

    ``F.multi_head_attention_forward`` (the functional form of ``nn.MultiheadAttention``) takes the
    module's own ``qkv`` and ``proj`` parameters as they are: its packed input projection is laid out
    [q; k; v] with heads contiguous inside each, the same layout as ``qkv``, and with
    ``need_weights=False`` its core is ``F.scaled_dot_product_attention``. Same parameters and the
    same function (up to round-off); attention dropout is applied by the fused kernel in training
    mode. The student's module is still used for everything else (its constructor, its parameters,
    and its ``forward`` once, to check it exists: see ``set_fused_attention``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] tokens -> [B, T, D] attended tokens."""
        tokens_first = x.transpose(0, 1)  # (T, B, D): the layout the functional form takes
        out, _ = F.multi_head_attention_forward(
            tokens_first, tokens_first, tokens_first, x.shape[-1], self.num_heads,
            self.qkv.weight, self.qkv.bias, None, None, False, self.attn_drop.p,
            self.proj.weight, self.proj.bias, training=self.training, need_weights=False,
        )
        return self.proj_drop(out.transpose(0, 1))  # (B, T, D)


class FusedAttentionError(RuntimeError):
    """MODEL.VIT.FUSED_ATTN was asked for before the model's own attention works."""


def _check_plain_attention(module: MultiHeadSelfAttention) -> None:
    """Runs the module's own (plain) ``forward`` once on a tiny input; raises when it is missing.

    The fused path replaces a working ``MultiHeadSelfAttention``; it is no substitute for one.
    """
    needs = {"num_heads": int, "attn_drop": nn.Dropout, "proj_drop": nn.Module, "qkv": nn.Linear, "proj": nn.Linear}
    missing = [f"self.{name}" for name, kind in needs.items() if not isinstance(getattr(module, name, None), kind)]
    if missing:
        raise FusedAttentionError(
            f"MODEL.VIT.FUSED_ATTN True runs on the skeleton's MultiHeadSelfAttention attributes, and yours "
            f"(models/vit.py) lacks {', '.join(missing)}: keep the skeleton's __init__ (self.num_heads, "
            f"self.qkv, self.attn_drop = nn.Dropout(...), self.proj, self.proj_drop), or leave "
            f"MODEL.VIT.FUSED_ATTN False (your own forward is used then)."
        )
    weight = module.qkv.weight
    if weight.is_meta:
        return  # nothing to run on the meta device
    x = torch.zeros(1, 2, weight.shape[1], dtype=weight.dtype, device=weight.device)  # (B=1, T=2, D)
    was_training = module.training
    try:
        with torch.no_grad():
            module.eval()
            MultiHeadSelfAttention.forward(module, x)
    except NotImplementedError as e:
        raise FusedAttentionError(
            "MODEL.VIT.FUSED_ATTN True needs your MultiHeadSelfAttention.forward (models/vit.py) first: it "
            "raises NotImplementedError. Write it (python -m autograder check tests it), or leave "
            "MODEL.VIT.FUSED_ATTN False."
        ) from e
    finally:
        module.train(was_training)


def set_fused_attention(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Switches every attention module of ``model`` to the fused kernel (or back), in place.

    The modules keep their parameters; only their class (and so their ``forward``) changes.

    Args:
        model: a model holding ``MultiHeadSelfAttention`` modules.
        enabled: True for the fused path, False for the plain one.

    Returns:
        ``model``, for chaining.

    Raises:
        FusedAttentionError: ``enabled`` while ``MultiHeadSelfAttention.forward`` is not written yet.
    """
    target = FusedMultiHeadSelfAttention if enabled else MultiHeadSelfAttention
    modules = [m for m in model.modules() if isinstance(m, MultiHeadSelfAttention)]
    if enabled and modules:
        _check_plain_attention(modules[0])
    for module in modules:
        module.__class__ = target
    return model


# -----------------------------------------------------------------------------------------------
# Pretrained weights
# -----------------------------------------------------------------------------------------------
class PretrainedWeightsError(RuntimeError):
    """MODEL.PRETRAINED cannot be read or does not fit the model; the message says what to do."""


def _cache_hint() -> str:
    hf_cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface")), "hub"
    )
    return (
        f"timm keeps downloaded weights in the Hugging Face cache ({hf_cache}) or in "
        f"{os.path.join(torch.hub.get_dir(), 'checkpoints')}"
    )


def read_checkpoint(path: str) -> dict:
    """The state dict stored in a local file.

    Accepts ``.safetensors`` and ``torch.save`` files (``.pth``, ``.pt``, ``.bin``, ``.ckpt``)
    holding either a state dict or a training checkpoint with the weights under ``model``,
    ``state_dict`` or ``model_state``. ``module.`` / ``_orig_mod.`` prefixes (DDP,
    torch.compile) are removed.

    Args:
        path: the checkpoint file.
    """
    if path.endswith(".npz"):
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {path!r} is a JAX .npz checkpoint, which is not read directly. Convert it "
            f"once with timm: m = timm.create_model('<timm arch>', pretrained=True, "
            f"pretrained_cfg_overlay=dict(file={path!r})); torch.save(m.state_dict(), 'weights.pth'); "
            f"then set MODEL.PRETRAINED to weights.pth."
        )
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path, device="cpu")
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a training checkpoint with non-tensor objects (RNG states, configs)
            try:
                state = torch.load(path, map_location="cpu", weights_only=False)
            except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:  # cut short, or not torch's
                raise PretrainedWeightsError(
                    f"MODEL.PRETRAINED {path!r} cannot be read ({str(e).strip()[:200] or type(e).__name__}); it is "
                    f"cut short (a copy or download that did not finish) or not a file torch.save wrote.") from e
            log.warning("%s holds more than tensors; loaded it with weights_only=False (trusted files only)", path)
    for key in ("model", "state_dict", "model_state"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {path!r} holds no state dict (expected name -> tensor, or a checkpoint "
            f"with one under 'model' or 'state_dict'). Save it with torch.save(model.state_dict(), path)."
        )
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def fetch_timm_state_dict(tag: str, timm_arch: Optional[str]) -> dict:
    """Weights of a timm pretrained model, named by a full timm name or a tag of ``timm_arch``.

    Args:
        tag: ``"augreg_in21k"`` (a tag of ``timm_arch``) or ``"vit_base_patch16_224.augreg_in21k"``.
        timm_arch: timm's name for the model being built, or None when it has none.
    """
    import timm

    if "." in tag:
        name = tag
    elif timm_arch:
        name = f"{timm_arch}.{tag}"
    else:
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {tag!r} is neither a file nor a full timm name, and this model has no timm "
            f"twin to take the tag from. Give a local checkpoint path or a full name such as "
            f"'vit_tiny_patch16_224.augreg_in21k'."
        )
    arch = name.split(".")[0]
    if not timm.list_pretrained(name):
        known = ", ".join(timm.list_pretrained(f"{arch}.*")) or "none"
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {tag!r}: timm has no pretrained weights named {name!r}. "
            f"Known for {arch}: {known}. Or point MODEL.PRETRAINED at a local checkpoint file."
        )
    try:
        return timm.create_model(name, pretrained=True).state_dict()
    except Exception as e:  # offline, no cache, or a failed download
        raise PretrainedWeightsError(
            f"Could not fetch timm weights {name!r} (MODEL.PRETRAINED {tag!r}): {type(e).__name__}: {e}. "
            f"Offline, download them on a machine with internet (timm.create_model({name!r}, "
            f"pretrained=True), then torch.save(model.state_dict(), 'weights.pth')), copy that local file here "
            f"and set MODEL.PRETRAINED to its path (e.g. --opts MODEL.PRETRAINED weights.pth). "
            f"{_cache_hint()}."
        ) from e


def resize_pos_embed(pos: torch.Tensor, new_grid: tuple[int, int], num_prefix_tokens: int = 1,
                     old_grid: Optional[tuple[int, int]] = None) -> torch.Tensor:
    """Resizes a position-embedding table to another patch grid.

    The prefix (class) token's entry is kept as is; the grid entries are interpolated
    bilinearly (``align_corners=False``, no antialiasing) as a D-channel image, by timm's
    ``resample_abs_pos_embed``.

    Args:
        pos: [1, prefix + gh * gw, D] table.
        new_grid: (rows, cols) of the new patch grid.
        num_prefix_tokens: tokens in front of the grid (1: the class token).
        old_grid: (rows, cols) of the table's grid; None assumes a square one.

    Returns:
        [1, prefix + rows * cols, D] table.
    """
    from timm.layers import resample_abs_pos_embed

    n = pos.shape[1] - num_prefix_tokens
    if old_grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise PretrainedWeightsError(
                f"The checkpoint's position table has {n} grid entries, not a square number, so its grid "
                f"shape is unknown. Resize it yourself with resize_pos_embed(..., old_grid=(rows, cols))."
            )
        old_grid = (side, side)
    resized = resample_abs_pos_embed(pos.float(), list(new_grid), list(old_grid), num_prefix_tokens=num_prefix_tokens,
                                     interpolation="bilinear", antialias=False)
    return torch.cat([pos[:, :num_prefix_tokens], resized[:, num_prefix_tokens:].to(pos.dtype)], dim=1)


def _token_grid(patch_embed: nn.Module) -> tuple[int, int]:
    """The patch grid (rows, columns) of a ``PatchEmbed``: its ``grid_size`` when it has one (the
    skeleton's constructor sets it), else from ``num_patches``, the only size DESIGN.md §4 promises of
    a student's constructor (which takes an int side, so the grid is square)."""
    grid = getattr(patch_embed, "grid_size", None)
    if grid is not None:
        return tuple(int(g) for g in grid)
    n = int(patch_embed.num_patches)
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"PatchEmbed has {n} patches and no grid_size: cannot tell its grid's rows and columns "
                         f"to resize the position embedding; set self.grid_size = (rows, columns) in its __init__")
    return side, side


def adapt_state_dict(state: dict, model: nn.Module) -> tuple[dict, dict]:
    """Fits a (converted) state dict to ``model``: a zero head when the class count differs
    (as in the paper's fine-tuning) and a resized position table when the grid differs.

    Args:
        state: parameter names (ours) -> tensors.
        model: the model the weights go into (its patch grid and ``head``).

    Returns:
        The adapted state dict and a summary {"head_reset": bool, "pos_resized": (old, new) or None}.
    """
    own = model.state_dict()
    state = {k: v for k, v in state.items() if not (k.startswith(IGNORED_PREFIXES) and k not in own)}
    info = {"head_reset": False, "pos_resized": None}
    if any(k in own and (k not in state or state[k].shape != own[k].shape) for k in HEAD_KEYS):
        for k in HEAD_KEYS:
            if k in own:
                state[k] = torch.zeros_like(own[k], device="cpu")
        info["head_reset"] = True
    if POS_KEY in state and POS_KEY in own and state[POS_KEY].shape != own[POS_KEY].shape:
        old = state[POS_KEY]
        state[POS_KEY] = resize_pos_embed(old, _token_grid(model.patch_embed))
        info["pos_resized"] = (tuple(old.shape), tuple(state[POS_KEY].shape))
    return state, info


def load_pretrained(model: nn.Module, source: str, timm_arch: Optional[str] = None,
                    converter: Callable[[dict], dict] = convert_timm_state_dict) -> dict:
    """Loads pretrained weights into ``model`` in place (MODEL.PRETRAINED).

    ``source`` is a local file (timm-format or our-format state dict, see ``read_checkpoint``)
    or a timm pretrained tag. The head is replaced by zeros when the class count differs and
    the position embedding is resized when the image size differs.

    Args:
        model: a ``VisionTransformer`` or hybrid.
        source: file path, tag of ``timm_arch`` (``"augreg_in21k"``) or full timm name.
        timm_arch: timm's name for the model, used with a bare tag.
        converter: maps timm key names to the model's.

    Returns:
        The summary from ``adapt_state_dict`` plus "source".
    """
    if os.path.isfile(source):
        state = read_checkpoint(source)
    elif os.sep in source or source.endswith((".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".npz")):
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {source!r} looks like a file path but no such file exists "
            f"(working directory {os.getcwd()}). Fix the path, or give a timm tag such as 'augreg_in21k'."
        )
    else:
        state = fetch_timm_state_dict(source, timm_arch)
    state, info = adapt_state_dict(converter(state), model)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise PretrainedWeightsError(
            f"MODEL.PRETRAINED {source!r} does not fit MODEL.NAME's architecture: {e}. Pick weights of the "
            f"same size and patch side (only the head and the position table are adapted)."
        ) from e
    log.info("loaded %s (head reset: %s, position table resized: %s)", source, info["head_reset"], info["pos_resized"])
    return {**info, "source": source}
