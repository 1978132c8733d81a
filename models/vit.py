"""The Vision Transformer (Dosovitskiy et al., 2021), a PyTorch port of the paper's JAX modules.

The module tree follows the authors' code (``PatchEmbed`` -> class token -> ``Encoder`` of
``Encoder1DBlock``s -> head on the class token), and the parameter names follow timm's
``VisionTransformer``, so timm's pretrained weights load through ``convert_timm_state_dict``.

Shapes used below: B batch, C channels, H x W image, P patch side, N = (H / P) * (W / P) patches,
D token width (``embed_dim``), h heads, d = D / h width of one head, K classes.

Homework: fill in every ``forward`` between the solution markers. The constructors are given, so
the attribute names (and therefore the checkpoint keys) are fixed; use those attributes.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F  # noqa: F401  (handy in the forward passes)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    h, w = value
    return int(h), int(w)


class PatchEmbed(nn.Module):
    """Cuts an image into non-overlapping P x P patches and projects each one to D numbers.

    The projection is one convolution whose kernel and stride are both P: it sees every patch
    once. Its output grid [B, D, H/P, W/P] is flattened into a sequence of tokens, the patches in
    row-major order (left to right along the top row first).

    Input [B, C, H, W] -> output [B, N, D].

    Args:
        img_size: image side (or (height, width)); each must be a multiple of ``patch_size``.
        patch_size: side P of a square patch.
        in_chans: image channels C.
        embed_dim: token width D.
    """

    def __init__(self, img_size: int | Sequence[int], patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        height, width = _pair(img_size)
        if height % patch_size or width % patch_size:
            raise ValueError(
                f"Image size {height}x{width} is not a multiple of the patch size {patch_size}: "
                f"the patches must tile the image. Pick DATA.IMG_SIZE divisible by {patch_size} "
                f"(e.g. {max(1, round(height / patch_size)) * patch_size}) or another patch size."
            )
        self.img_size = (height, width)
        self.patch_size = patch_size
        self.grid_size = (height // patch_size, width // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] images -> [B, N, D] patch tokens in row-major order."""
        ### BEGIN SOLUTION
        x = self.proj(x)  # (B, D, H/P, W/P)
        x = x.flatten(2)  # (B, D, N)
        return x.transpose(1, 2)  # (B, N, D)
        ### END SOLUTION


class AddPositionEmbs(nn.Module):
    """Adds a learned position embedding, one D-vector per token position.

    The same [1, T, D] table is added to every sequence in the batch (T tokens, class token
    included). Input [B, T, D] -> output [B, T, D].

    Args:
        num_tokens: sequence length T the table covers.
        embed_dim: token width D.
    """

    def __init__(self, num_tokens: int, embed_dim: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, num_tokens, embed_dim))
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] tokens -> [B, T, D] tokens with their positions added."""
        ### BEGIN SOLUTION
        return x + self.pos_embedding  # (B, T, D) + (1, T, D) broadcasts over the batch
        ### END SOLUTION


class MlpBlock(nn.Module):
    """The transformer's position-wise MLP: Linear D -> mlp_dim, exact GELU, dropout,
    Linear mlp_dim -> D, dropout. Every token is transformed independently.

    Input [B, T, D] -> output [B, T, D].

    Args:
        embed_dim: token width D.
        mlp_dim: hidden width.
        dropout: dropout probability after the GELU and after the second linear layer.
    """

    def __init__(self, embed_dim: int, mlp_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, mlp_dim)
        self.act = nn.GELU()  # exact (erf) GELU, as in the paper's code
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(mlp_dim, embed_dim)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, D]."""
        ### BEGIN SOLUTION
        x = self.drop1(self.act(self.fc1(x)))  # (B, T, mlp_dim)
        return self.drop2(self.fc2(x))  # (B, T, D)
        ### END SOLUTION


class MultiHeadSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention.

    One linear layer ``qkv`` makes queries, keys and values for all heads at once: its D * 3
    outputs per token are laid out as [3, h, d] (which of q/k/v, head, channel within the head).
    Each head attends with softmax(q k^T / sqrt(d)) over the key axis, dropout on those weights,
    then averages the values with them. The heads' outputs are concatenated back to D channels
    (head-major, like the qkv layout) and mixed by ``proj``, followed by dropout.

    Input [B, T, D] -> output [B, T, D]. Attention weights are [B, h, T, T].

    Args:
        embed_dim: token width D; must be divisible by ``num_heads``.
        num_heads: number of heads h.
        qkv_bias: whether the qkv projection has a bias.
        attn_dropout: dropout probability on the attention weights.
        proj_dropout: dropout probability after the output projection.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_dropout: float = 0.0,
        proj_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}: every head gets "
                f"embed_dim / num_heads channels. Change one of them (MODEL.VIT.EMBED_DIM / NUM_HEADS)."
            )
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(embed_dim, embed_dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.proj_drop = nn.Dropout(proj_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] tokens -> [B, T, D] attended tokens."""
        ### BEGIN SOLUTION
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim)  # (B, T, 3, h, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, T, d)
        attn = (q @ k.transpose(-2, -1)) * self.scale  # (B, h, T, T): scores of query i on key j
        attn = attn.softmax(dim=-1)  # each query's weights sum to 1 over the keys
        attn = self.attn_drop(attn)
        x = attn @ v  # (B, h, T, d)
        x = x.transpose(1, 2).reshape(B, T, D)  # (B, T, h * d), heads concatenated
        return self.proj_drop(self.proj(x))  # (B, T, D)
        ### END SOLUTION


class Encoder1DBlock(nn.Module):
    """One pre-LayerNorm transformer block (LayerNorm eps 1e-6):

    first a residual attention branch, LayerNorm ``norm1`` -> ``attn`` -> ``dropout`` added back
    to the input; then a residual MLP branch, LayerNorm ``norm2`` -> ``mlp`` added back.
    The normalisations sit inside the branches, never on the residual path.

    Input [B, T, D] -> output [B, T, D].

    Args:
        embed_dim: token width D.
        num_heads: attention heads.
        mlp_dim: hidden width of the MLP.
        dropout: dropout probability after attention and inside the MLP.
        attn_dropout: dropout probability on the attention weights.
        qkv_bias: whether the qkv projection has a bias.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim, eps=1e-6)
        # The block applies its own dropout after attention (as the JAX code does), so the
        # attention's output dropout stays off.
        self.attn = MultiHeadSelfAttention(embed_dim, num_heads, qkv_bias, attn_dropout, proj_dropout=0.0)
        self.dropout = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(embed_dim, eps=1e-6)
        self.mlp = MlpBlock(embed_dim, mlp_dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, D]."""
        ### BEGIN SOLUTION
        x = x + self.dropout(self.attn(self.norm1(x)))  # (B, T, D)
        return x + self.mlp(self.norm2(x))  # (B, T, D)
        ### END SOLUTION


class Encoder(nn.Module):
    """The transformer encoder: add position embeddings, dropout, the blocks in order, and a
    final LayerNorm (eps 1e-6).

    Input [B, T, D] -> output [B, T, D].

    Args:
        num_tokens: sequence length T (patches plus the class token).
        embed_dim: token width D.
        depth: number of blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        dropout: dropout probability after the position embedding and inside the blocks.
        attn_dropout: dropout probability on the attention weights.
        qkv_bias: whether the qkv projections have a bias.
    """

    def __init__(
        self,
        num_tokens: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        self.pos_embed = AddPositionEmbs(num_tokens, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            [Encoder1DBlock(embed_dim, num_heads, mlp_dim, dropout, attn_dropout, qkv_bias) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] token sequence -> [B, T, D] encoded sequence."""
        ### BEGIN SOLUTION
        x = self.dropout(self.pos_embed(x))  # (B, T, D)
        for layer in self.layers:
            x = layer(x)  # (B, T, D)
        return self.norm(x)
        ### END SOLUTION


class VisionTransformer(nn.Module):
    """ViT classifier: patch tokens, a learned class token in front, the encoder, and a linear
    head on the encoded class token.

    Input [B, C, H, W] -> patch tokens [B, N, D] -> with the class token first [B, N + 1, D]
    -> encoded [B, N + 1, D] -> class token [B, D] -> logits [B, K].

    Args:
        img_size: image side (or (height, width)), a multiple of ``patch_size``.
        patch_size: patch side P.
        in_chans: image channels C.
        num_classes: number of logits K.
        embed_dim: token width D.
        depth: number of encoder blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        dropout: dropout probability (embeddings, after attention, inside the MLPs).
        attn_dropout: dropout probability on the attention weights.
        qkv_bias: whether the qkv projections have a bias.
    """

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
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
        super().__init__()
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.encoder = Encoder(
            self.patch_embed.num_patches + 1, embed_dim, depth, num_heads, mlp_dim, dropout, attn_dropout, qkv_bias
        )
        self.head = nn.Linear(embed_dim, num_classes)
        init_vit_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] images -> [B, num_classes] logits."""
        ### BEGIN SOLUTION
        x = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        x = torch.cat([cls, x], dim=1)  # (B, N + 1, D), class token first
        x = self.encoder(x)  # (B, N + 1, D)
        return self.head(x[:, 0])  # (B, K) from the class token
        ### END SOLUTION


def init_vit_weights(model: nn.Module) -> None:
    """timm's ViT initialisation: linear weights truncated normal (std 0.02) with zero biases,
    LayerNorms at (1, 0), the class token zero and the position table truncated normal (std 0.02).
    The patch convolution keeps PyTorch's default.

    Args:
        model: a module holding ViT parts; changed in place.
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, AddPositionEmbs):
            nn.init.trunc_normal_(module.pos_embedding, std=0.02)
    if isinstance(getattr(model, "cls_token", None), nn.Parameter):
        nn.init.zeros_(model.cls_token)


def convert_timm_state_dict(state_dict: dict) -> dict:
    """Renames the keys of a timm ``VisionTransformer`` state dict to this module's names.

    ``pos_embed`` -> ``encoder.pos_embed.pos_embedding``, ``blocks.i.*`` -> ``encoder.layers.i.*``,
    ``norm.*`` -> ``encoder.norm.*``; every other key (``patch_embed.*``, ``cls_token``, ``head.*``)
    keeps its name. Keys already in this module's format pass through unchanged.

    Args:
        state_dict: timm parameter names -> tensors.

    Returns:
        A new dict with this module's parameter names (the tensors are shared, not copied).
    """
    out = {}
    for key, value in state_dict.items():
        if key == "pos_embed":
            key = "encoder.pos_embed.pos_embedding"
        elif key.startswith("blocks."):
            key = "encoder.layers." + key[len("blocks."):]
        elif key.startswith("norm."):
            key = "encoder." + key
        out[key] = value
    return out


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (works on the meta device, where no weights are allocated)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "PatchEmbed",
    "AddPositionEmbs",
    "MlpBlock",
    "MultiHeadSelfAttention",
    "Encoder1DBlock",
    "Encoder",
    "VisionTransformer",
    "convert_timm_state_dict",
    "init_vit_weights",
    "count_parameters",
]
