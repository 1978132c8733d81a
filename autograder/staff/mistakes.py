"""STAFF ONLY (left out of the handout): the catalogue of realistic mistakes, as mutants.

Each mutant is what a student might write: a ``forward`` with one mistake (written against the
handout's attribute names, which timm's and torchvision's reference modules share), or a change
to a built model for the classes whose layers the student writes. The grader runs them to name
a mistake (``autograder.grading.diagnosis``); the tests graft each one into a copy of the staff
solution and check that it loses points on its own item only, with this diagnosis.

Near-solutions: never ship this file.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from autograder.grading.mistake import Mistake

# ------------------------------------------------------------------ PatchEmbed


def patch_column_major(self, x):
    x = self.proj(x)  # (B, D, h, w)
    return x.transpose(2, 3).flatten(2).transpose(1, 2)  # columns first


def patch_reshape_not_transpose(self, x):
    x = self.proj(x)  # (B, D, h, w)
    return x.reshape(x.shape[0], -1, x.shape[1])  # reads the channel-major memory as tokens


def patch_no_transpose(self, x):
    return self.proj(x).flatten(2)  # (B, D, N): channels and tokens swapped


# ------------------------------------------------------------------ AddPositionEmbs


def pos_not_added(self, x):
    return x


def pos_multiplied(self, x):
    return x * self.pos_embedding


# ------------------------------------------------------------------ MlpBlock


def mlp_relu(self, x):
    return self.drop2(self.fc2(self.drop1(F.relu(self.fc1(x)))))


def mlp_tanh_gelu(self, x):
    return self.drop2(self.fc2(self.drop1(F.gelu(self.fc1(x), approximate="tanh"))))


def mlp_no_activation(self, x):
    return self.drop2(self.fc2(self.drop1(self.fc1(x))))


def mlp_dropout_in_eval(self, x):
    x = F.dropout(F.gelu(self.fc1(x)), self.drop1.p, training=True)
    return F.dropout(self.fc2(x), self.drop2.p, training=True)


def _nondeterministic(results):
    return any(isinstance(r.get("out"), torch.Tensor) and any(
        not isinstance(a, torch.Tensor) or not torch.equal(a, r["out"]) for a in r.get("repeats", []))
        for r in results)


# ------------------------------------------------------------------ MultiHeadSelfAttention


def _heads(self, x):
    B, T, D = x.shape
    qkv = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
    return qkv.unbind(0)  # each (B, h, T, d)


def _merge(self, attn, v, B, T, D):
    x = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(B, T, D)
    return self.proj_drop(self.proj(x))


def attn_unscaled(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    return _merge(self, (q @ k.transpose(-2, -1)).softmax(-1), v, B, T, D)


def attn_scaled_by_embed_dim(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    return _merge(self, (q @ k.transpose(-2, -1) / math.sqrt(D)).softmax(-1), v, B, T, D)


def attn_scaled_by_head_dim(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    return _merge(self, (q @ k.transpose(-2, -1) / self.head_dim).softmax(-1), v, B, T, D)


def attn_softmax_wrong_axis(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    return _merge(self, (q @ k.transpose(-2, -1) * self.head_dim ** -0.5).softmax(-2), v, B, T, D)


def attn_qkv_layout(self, x):
    B, T, D = x.shape
    qkv = self.qkv(x).reshape(B, T, self.num_heads, 3, self.head_dim).permute(3, 0, 2, 1, 4)
    q, k, v = qkv.unbind(0)
    return _merge(self, (q @ k.transpose(-2, -1) * self.head_dim ** -0.5).softmax(-1), v, B, T, D)


def attn_heads_without_transpose(self, x):
    B, T, D = x.shape
    q, k, v = self.qkv(x).chunk(3, dim=-1)  # each (B, T, D)
    q, k, v = (t.reshape(B, self.num_heads, T, self.head_dim) for t in (q, k, v))  # no transpose
    return _merge(self, (q @ k.transpose(-2, -1) * self.head_dim ** -0.5).softmax(-1), v, B, T, D)


def attn_merge_without_transpose(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    attn = self.attn_drop((q @ k.transpose(-2, -1) * self.head_dim ** -0.5).softmax(-1))
    return self.proj_drop(self.proj((attn @ v).reshape(B, T, D)))


def attn_no_output_projection(self, x):
    B, T, D = x.shape
    q, k, v = _heads(self, x)
    attn = self.attn_drop((q @ k.transpose(-2, -1) * self.head_dim ** -0.5).softmax(-1))
    return self.proj_drop((attn @ v).transpose(1, 2).reshape(B, T, D))


# ------------------------------------------------------------------ Encoder1DBlock


def block_post_ln(self, x):
    x = self.norm1(x + self.dropout(self.attn(x)))
    return self.norm2(x + self.mlp(x))


def block_no_attn_residual(self, x):
    x = self.dropout(self.attn(self.norm1(x)))
    return x + self.mlp(self.norm2(x))


def block_no_mlp_residual(self, x):
    x = x + self.dropout(self.attn(self.norm1(x)))
    return self.mlp(self.norm2(x))


def block_norm_on_residual(self, x):
    x = self.norm1(x)
    x = x + self.dropout(self.attn(x))
    x = self.norm2(x)
    return x + self.mlp(x)


def block_norm1_twice(self, x):
    x = x + self.dropout(self.attn(self.norm1(x)))
    return x + self.mlp(self.norm1(x))


# ------------------------------------------------------------------ Encoder


def encoder_no_final_norm(self, x):
    x = self.dropout(self.pos_embed(x))
    for layer in self.layers:
        x = layer(x)
    return x


def encoder_no_pos_embed(self, x):
    x = self.dropout(x)
    for layer in self.layers:
        x = layer(x)
    return self.norm(x)


def encoder_pos_after_dropout(self, x):
    x = self.pos_embed(self.dropout(x))
    for layer in self.layers:
        x = layer(x)
    return self.norm(x)


def _dropout_before_pos(results):
    orders = [r.get("order") or [] for r in results]
    return any("dropout" in o and "pos_embed" in o and o.index("dropout") < o.index("pos_embed") for o in orders)


def encoder_first_block_only(self, x):
    x = self.layers[0](self.dropout(self.pos_embed(x)))
    return self.norm(x)


# ------------------------------------------------------------------ VisionTransformer


def vit_cls_at_end(self, x):
    x = self.patch_embed(x)
    x = torch.cat([x, self.cls_token.expand(x.shape[0], -1, -1)], dim=1)
    return self.head(self.encoder(x)[:, -1])


def vit_cls_at_end_head_on_first(self, x):
    x = self.patch_embed(x)
    x = torch.cat([x, self.cls_token.expand(x.shape[0], -1, -1)], dim=1)
    return self.head(self.encoder(x)[:, 0])


def vit_mean_pool(self, x):
    x = self.patch_embed(x)
    x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
    return self.head(self.encoder(x).mean(dim=1))


def vit_head_on_last_token(self, x):
    x = self.patch_embed(x)
    x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
    return self.head(self.encoder(x)[:, -1])


# ------------------------------------------------------------------ AlexNet (layers written by the student)


def _replace_first(seq: nn.Sequential, kind: type, new: nn.Module) -> None:
    for i, layer in enumerate(seq):
        if isinstance(layer, kind):
            seq[i] = new
            return


def alexnet_no_first_relu(model):
    _replace_first(model.features, nn.ReLU, nn.Identity())


def alexnet_no_classifier_relu(model):
    _replace_first(model.classifier, nn.ReLU, nn.Identity())


def alexnet_pool_kernel_2(model):
    _replace_first(model.features, nn.MaxPool2d, nn.MaxPool2d(kernel_size=2, stride=2))


# ------------------------------------------------------------------ ResNet BasicBlock


def block_no_shortcut(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    return F.relu(self.bn2(self.conv2(out)))


def block_relu_before_add(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    return F.relu(self.bn2(self.conv2(out))) + self.shortcut(x)


def block_no_final_relu(self, x):
    out = F.relu(self.bn1(self.conv1(x)))
    return self.bn2(self.conv2(out)) + self.shortcut(x)


def block_no_inner_relu(self, x):
    out = self.bn1(self.conv1(x))
    return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


V = "vit/"
MISTAKES: list[Mistake] = [
    Mistake(V + "PatchEmbed", "patch_order", "the patches come out in column-major order (down the first column "
            "first); they must be row-major (left to right along the top row first): flatten the [B, D, h, w] "
            "grid as it is, without swapping h and w", forward=patch_column_major),
    Mistake(V + "PatchEmbed", "reshape_not_transpose", "the [B, D, h, w] grid is reshaped straight to [B, N, D]: "
            "a reshape does not move the channels, so every token mixes channels of several patches; flatten "
            "to [B, D, N] and then transpose to [B, N, D]", forward=patch_reshape_not_transpose),
    Mistake(V + "PatchEmbed", "no_transpose", "the output is [B, D, N] (channels before tokens): transpose the "
            "last two axes to get [B, N, D]", forward=patch_no_transpose),
    Mistake(V + "AddPositionEmbs", "not_added", "the position embedding is not added: the input comes back "
            "unchanged", forward=pos_not_added),
    Mistake(V + "AddPositionEmbs", "multiplied", "the position embedding multiplies the tokens; it must be added",
            forward=pos_multiplied),
    Mistake(V + "MlpBlock", "relu", "ReLU is used where the block needs the exact GELU (nn.GELU() / F.gelu)",
            forward=mlp_relu),
    Mistake(V + "MlpBlock", "tanh_gelu", "the tanh approximation of GELU is used; the contract is the exact (erf) "
            "GELU, F.gelu's default", forward=mlp_tanh_gelu),
    Mistake(V + "MlpBlock", "no_activation", "there is no activation between fc1 and fc2 (the block is then just "
            "one linear map)", forward=mlp_no_activation),
    Mistake(V + "MlpBlock", "dropout_in_eval", "dropout is active in eval mode (F.dropout with training=True, or "
            "without training=self.training)", forward=mlp_dropout_in_eval, symptom=_nondeterministic),
    Mistake(V + "MultiHeadSelfAttention", "unscaled_scores", "the attention scores q k^T are not scaled: divide "
            "them by sqrt(head_dim) before the softmax", forward=attn_unscaled),
    Mistake(V + "MultiHeadSelfAttention", "scaled_by_embed_dim", "the scores are divided by sqrt(embed_dim); the "
            "scale is per head, 1 / sqrt(head_dim) with head_dim = embed_dim / num_heads",
            forward=attn_scaled_by_embed_dim),
    Mistake(V + "MultiHeadSelfAttention", "scaled_by_head_dim", "the scores are divided by head_dim; the scale "
            "is 1 / sqrt(head_dim)", forward=attn_scaled_by_head_dim),
    Mistake(V + "MultiHeadSelfAttention", "softmax_wrong_axis", "the softmax runs over the queries (dim -2); "
            "each query's weights must sum to 1 over the keys (dim -1)", forward=attn_softmax_wrong_axis),
    Mistake(V + "MultiHeadSelfAttention", "qkv_layout", "the qkv output is split as [heads, 3, head_dim]; its "
            "layout is [3, heads, head_dim] (reshape to [B, T, 3, heads, head_dim])", forward=attn_qkv_layout),
    Mistake(V + "MultiHeadSelfAttention", "heads_without_transpose", "q, k and v are reshaped straight from "
            "[B, T, D] to [B, heads, T, head_dim]; split the channels first ([B, T, heads, head_dim]) and then "
            "transpose the token and head axes", forward=attn_heads_without_transpose),
    Mistake(V + "MultiHeadSelfAttention", "merge_without_transpose", "the heads are merged by reshaping "
            "[B, heads, T, head_dim] straight to [B, T, D]; transpose to [B, T, heads, head_dim] first",
            forward=attn_merge_without_transpose),
    Mistake(V + "MultiHeadSelfAttention", "no_output_projection", "the output projection self.proj is missing "
            "after the heads are concatenated", forward=attn_no_output_projection),
    Mistake(V + "Encoder1DBlock", "post_ln", "the block is post-LayerNorm (norm after the residual add); this "
            "ViT is pre-LN: x = x + attn(norm1(x)), then x = x + mlp(norm2(x))", forward=block_post_ln),
    Mistake(V + "Encoder1DBlock", "no_attn_residual", "the attention branch has no residual connection (the "
            "input is not added back)", forward=block_no_attn_residual),
    Mistake(V + "Encoder1DBlock", "no_mlp_residual", "the MLP branch has no residual connection (its input is "
            "not added back)", forward=block_no_mlp_residual),
    Mistake(V + "Encoder1DBlock", "norm_on_residual", "the LayerNorms are applied on the residual path (x = "
            "norm(x) before the branch); they belong inside the branches only", forward=block_norm_on_residual),
    Mistake(V + "Encoder1DBlock", "norm1_twice", "norm1 is used before the MLP too; the MLP branch has its own "
            "norm2", forward=block_norm1_twice),
    Mistake(V + "Encoder", "no_final_norm", "the final LayerNorm (self.norm) is missing after the last block",
            forward=encoder_no_final_norm),
    Mistake(V + "Encoder", "no_pos_embed", "the position embedding (self.pos_embed) is never applied",
            forward=encoder_no_pos_embed),
    Mistake(V + "Encoder", "pos_after_dropout", "the dropout runs before the position embedding is added; add "
            "the position embedding first, then dropout", forward=encoder_pos_after_dropout,
            symptom=_dropout_before_pos),
    Mistake(V + "Encoder", "first_block_only", "only the first block runs; every block in self.layers must run, "
            "in order", forward=encoder_first_block_only),
    Mistake(V + "VisionTransformer", "cls_at_end", "the class token is appended after the patches (and the head "
            "reads the last token); it goes in front, at position 0, where the position embedding expects it",
            forward=vit_cls_at_end),
    Mistake(V + "VisionTransformer", "cls_at_end_head_on_first", "the class token is appended after the patches "
            "while the head reads token 0 (a patch); put the class token in front", forward=vit_cls_at_end_head_on_first),
    Mistake(V + "VisionTransformer", "mean_pool", "the head reads the mean of all tokens; this ViT classifies "
            "from the class token alone (token 0 of the encoder's output)", forward=vit_mean_pool),
    Mistake(V + "VisionTransformer", "head_on_last_token", "the head reads the last token; the class token is "
            "token 0", forward=vit_head_on_last_token),
    Mistake("alexnet/AlexNet", "no_first_relu", "there is no ReLU after the first convolution",
            transform=alexnet_no_first_relu),
    Mistake("alexnet/AlexNet", "no_classifier_relu", "there is no ReLU after the first linear layer of the "
            "classifier", transform=alexnet_no_classifier_relu),
    Mistake("alexnet/AlexNet", "pool_kernel_2", "the first max-pool has kernel 2; AlexNet's pools are 3x3 with "
            "stride 2 (overlapping)", transform=alexnet_pool_kernel_2),
    Mistake("resnet/BasicBlock", "no_shortcut", "the shortcut is never added: out = relu(bn2(conv2(...)) + "
            "shortcut(x))", forward=block_no_shortcut),
    Mistake("resnet/BasicBlock", "relu_before_add", "the ReLU runs before the shortcut is added; add first, then "
            "ReLU", forward=block_relu_before_add),
    Mistake("resnet/BasicBlock", "no_final_relu", "the ReLU after the residual add is missing",
            forward=block_no_final_relu),
    Mistake("resnet/BasicBlock", "no_inner_relu", "the ReLU between the two convolutions is missing",
            forward=block_no_inner_relu),
]

# The public part of the catalogue: `check` names these mistakes in the handout too. Only their
# descriptions and their mutants' outputs on the public cases ship (autograder/grading/public.py
# stores them as numbers); the forwards above never do.
PUBLIC_KEYS = {
    V + "PatchEmbed": {"no_transpose"},
    V + "AddPositionEmbs": {"not_added", "multiplied"},
    V + "MlpBlock": {"relu", "tanh_gelu", "no_activation"},
    V + "MultiHeadSelfAttention": {"unscaled_scores", "softmax_wrong_axis", "no_output_projection"},
    V + "Encoder1DBlock": {"post_ln", "no_attn_residual"},
    V + "Encoder": {"no_final_norm", "no_pos_embed", "first_block_only"},
    V + "VisionTransformer": {"cls_at_end", "cls_at_end_head_on_first", "mean_pool", "head_on_last_token"},
    "alexnet/AlexNet": {"no_first_relu"},
    "resnet/BasicBlock": {"no_shortcut", "relu_before_add"},
}
MISTAKES = [dataclasses.replace(m, public=m.key in PUBLIC_KEYS.get(m.item, ())) for m in MISTAKES]
