"""A complete, correct ``models/vit.py`` written the way a student might, used whole as a
submission (not grafted): the constructors accept only an int ``img_size`` (as the contract gives
it), patches come from ``F.unfold``, the MLP's GELU is an ``nn.GELU`` module, and the attention is
``torch.bmm`` (or ``torch.einsum``: ``STYLE`` below, switched by the tests).

Every vit/ item must give it full marks.
"""
import torch
import torch.nn.functional as F
from torch import nn

STYLE = "bmm"


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.num_patches = (img_size // patch_size) ** 2  # an int side only
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        p = self.patch_size
        cols = F.unfold(x, kernel_size=p, stride=p)  # (B, C*P*P, N), patches row-major
        w = self.proj.weight.flatten(1)  # (D, C*P*P)
        return cols.transpose(1, 2) @ w.t() + self.proj.bias  # (B, N, D)


class AddPositionEmbs(nn.Module):
    def __init__(self, num_tokens, embed_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.randn(1, num_tokens, embed_dim) * 0.02)

    def forward(self, x):
        return x + self.pos_embedding


class MlpBlock(nn.Module):
    def __init__(self, embed_dim, mlp_dim, dropout=0.0):
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, mlp_dim)
        self.gelu = nn.GELU()
        self.fc2 = nn.Linear(mlp_dim, embed_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.gelu(self.fc1(x)))))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, qkv_bias=True, attn_dropout=0.0, proj_dropout=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.proj_drop = nn.Dropout(proj_dropout)

    def forward(self, x):
        B, T, D = x.shape
        h = self.num_heads
        d = D // h
        qkv = self.qkv(x).view(B, T, 3, h, d)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # each (B, h, T, d)
        if STYLE == "einsum":
            scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / d ** 0.5  # (B, h, T, T)
            weights = self.attn_drop(scores.softmax(-1))
            out = torch.einsum("bhqk,bhkd->bhqd", weights, v)  # (B, h, T, d)
        else:
            q, k, v = (t.reshape(B * h, T, d) for t in (q, k, v))
            weights = self.attn_drop(torch.softmax(torch.bmm(q, k.transpose(1, 2)) / d ** 0.5, dim=-1))
            out = torch.bmm(weights, v).view(B, h, T, d)
        out = out.permute(0, 2, 1, 3).reshape(B, T, D)  # heads concatenated
        return self.proj_drop(self.proj(out))


class Encoder1DBlock(nn.Module):
    def __init__(self, embed_dim, num_heads, mlp_dim, dropout=0.0, attn_dropout=0.0, qkv_bias=True):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(embed_dim, num_heads, qkv_bias, attn_dropout)
        self.dropout = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(embed_dim, eps=1e-6)
        self.mlp = MlpBlock(embed_dim, mlp_dim, dropout)

    def forward(self, x):
        x = x + self.dropout(self.attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, num_tokens, embed_dim, depth, num_heads, mlp_dim, dropout=0.0, attn_dropout=0.0,
                 qkv_bias=True):
        super().__init__()
        self.pos_embed = AddPositionEmbs(num_tokens, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(Encoder1DBlock(embed_dim, num_heads, mlp_dim, dropout, attn_dropout, qkv_bias)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x):
        x = self.dropout(self.pos_embed(x))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768, depth=12,
                 num_heads=12, mlp_dim=3072, dropout=0.0, attn_dropout=0.0, qkv_bias=True):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.encoder = Encoder(self.patch_embed.num_patches + 1, embed_dim, depth, num_heads, mlp_dim, dropout,
                               attn_dropout, qkv_bias)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], 1, tokens.shape[2])
        return self.head(self.encoder(torch.cat([cls, tokens], dim=1))[:, 0])


def convert_timm_state_dict(state_dict):
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
