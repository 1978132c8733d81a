"""Staff-only references of the ViT container classes (they spell out the students' forwards).

``autograder/grading/reference.py`` imports these when the staff grade; the handout has no
``autograder/staff/`` folder, and its rubric marks these three items as not public.
"""
from __future__ import annotations

import torch
from torch import nn

from autograder.tasks import make_part

class RefAddPositionEmbs(nn.Module):
    """The stated contract: the tokens plus a learned [1, T, D] table."""

    def __init__(self, num_tokens: int, embed_dim: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, num_tokens, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embedding


class RefEncoder(nn.Module):
    """The stated contract ``norm(layers(dropout(pos_embed(x))))`` over public parts."""

    def __init__(self, kw: dict) -> None:
        super().__init__()
        self.pos_embed = make_part("scale_probe", kw)
        self.dropout = nn.Dropout(kw["dropout"])
        self.layers = nn.ModuleList([make_part("block", kw) for _ in range(kw["depth"])])
        self.norm = nn.LayerNorm(kw["embed_dim"], eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.pos_embed(x))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class RefVisionTransformer(nn.Module):
    """The stated contract: class token first, encode, head on token 0 (public parts inside)."""

    def __init__(self, kw: dict) -> None:
        super().__init__()
        self.patch_embed = make_part("patch_embed", kw)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, kw["embed_dim"]))
        self.encoder = make_part("probe_encoder", {**kw, "num_tokens": self.patch_embed.num_patches + 1})
        self.head = nn.Linear(kw["embed_dim"], kw["num_classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(self.encoder(x)[:, 0])
