"""The staff helpers around the student's ViT reuse the student's code instead of spelling it out.

``MODEL.VIT.FUSED_ATTN`` runs PyTorch's fused multi-head attention on the module's own parameters
(and only once the student's attention exists); the hybrid's tokens come from ``PatchEmbed.forward``.
"""
from __future__ import annotations

import pytest
import torch

from models.hybrid import HybridVisionTransformer
from models.vit import MultiHeadSelfAttention, PatchEmbed
from models.vit_zoo import FusedAttentionError, resize_pos_embed, set_fused_attention


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_fused_attention_equals_the_plain_module_forward_and_backward(qkv_bias):
    torch.manual_seed(0)
    plain = MultiHeadSelfAttention(24, 3, qkv_bias=qkv_bias, attn_dropout=0.3, proj_dropout=0.2).double().eval()
    fused = MultiHeadSelfAttention(24, 3, qkv_bias=qkv_bias, attn_dropout=0.3, proj_dropout=0.2).double().eval()
    fused.load_state_dict(plain.state_dict())
    set_fused_attention(fused, True)
    x = torch.randn(2, 7, 24, dtype=torch.float64, requires_grad=True)
    out_p, out_f = plain(x), fused(x)  # eval mode: dropout off, both deterministic
    torch.testing.assert_close(out_f, out_p, rtol=1e-10, atol=1e-12, msg="fused vs plain attention output")
    grad_p = torch.autograd.grad(out_p.square().sum(), [x, plain.qkv.weight])
    grad_f = torch.autograd.grad(out_f.square().sum(), [x, fused.qkv.weight])
    for gp, gf, name in zip(grad_p, grad_f, ("input", "qkv.weight")):
        torch.testing.assert_close(gf, gp, rtol=1e-10, atol=1e-12, msg=f"fused vs plain gradient of {name}")


def test_fused_attention_applies_attention_dropout_in_training_mode():
    torch.manual_seed(0)
    m = set_fused_attention(MultiHeadSelfAttention(16, 2, attn_dropout=0.5).train(), True)
    x = torch.randn(1, 9, 16)
    assert not torch.equal(m(x), m(x)), "two training-mode calls with attention dropout 0.5 should differ"
    m.eval()
    assert torch.equal(m(x), m(x))


def test_fused_attention_waits_for_the_students_forward(monkeypatch):
    def not_written(self, x):
        raise NotImplementedError()

    monkeypatch.setattr(MultiHeadSelfAttention, "forward", not_written)
    m = MultiHeadSelfAttention(8, 2)
    with pytest.raises(FusedAttentionError, match=r"MultiHeadSelfAttention\.forward \(models/vit\.py\) first"):
        set_fused_attention(m, True)
    assert type(m) is MultiHeadSelfAttention, "a refused switch leaves the module as it was"


def test_hybrid_tokens_come_from_patch_embed_forward(monkeypatch):
    torch.manual_seed(0)
    model = HybridVisionTransformer(img_size=32, layers=(2, 2, 2, 2), num_classes=3, embed_dim=16, depth=1,
                                    num_heads=2, mlp_dim=32).eval()
    assert isinstance(model.patch_embed, PatchEmbed)
    assert model.patch_embed.grid_size == (1, 1) and model.patch_embed.image_size == (32, 32)
    seen = []
    original = PatchEmbed.forward

    def spy(self, x):
        seen.append(tuple(x.shape))
        return original(self, x)

    monkeypatch.setattr(PatchEmbed, "forward", spy)
    tokens = model.patch_embed(torch.randn(2, 3, 32, 32))
    assert seen == [(2, model.patch_embed.backbone.num_features, 1, 1)], "PatchEmbed.forward sees the feature map"
    assert tokens.shape == (2, 1, 16)

    def not_written(self, x):
        raise NotImplementedError()

    monkeypatch.setattr(PatchEmbed, "forward", not_written)
    with pytest.raises(NotImplementedError):
        model.patch_embed(torch.randn(1, 3, 32, 32))


def test_resize_pos_embed_keeps_the_class_token_and_interpolates_the_grid():
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 2 * 2, 3, dtype=torch.float64)
    out = resize_pos_embed(pos, (4, 4))
    assert out.shape == (1, 17, 3) and out.dtype == torch.float64
    assert torch.equal(out[:, 0], pos[:, 0])
    grid = pos[0, 1:].reshape(2, 2, 3).permute(2, 0, 1)[None].float()  # (1, D, 2, 2)
    want = torch.nn.functional.interpolate(grid, size=(4, 4), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out[0, 1:].float(), want[0].permute(1, 2, 0).reshape(16, 3))
    same = resize_pos_embed(pos, (2, 2))
    torch.testing.assert_close(same, pos)


INT_ONLY_PROBE = r"""
import torch
from models.registry import MODELS
import models.build  # imports every model module, as main.py does
from models.hybrid import HybridVisionTransformer
assert MODELS.get("lenet")
model = HybridVisionTransformer(img_size=32, layers=(2, 2, 2, 2), num_classes=3, embed_dim=16, depth=1,
                                num_heads=2, mlp_dim=32)
print("ok", type(model.patch_embed).__name__)
"""


def test_models_work_with_a_students_int_only_vit(tmp_path):
    """DESIGN.md §4 promises PatchEmbed and VisionTransformer an int img_size only, and a student may
    rewrite models/vit.py around that (issue 12): its private helpers (``_pair``) are not part of the
    contract. With such a file, main.py's model registry must still import (LeNet must still train)
    and the hybrid must build (it used to import ``_pair`` and hand PatchEmbed a (h, w) pair)."""
    import re
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "models", tmp_path / "models", ignore=shutil.ignore_patterns("__pycache__"))
    src = (repo / "models" / "vit.py").read_text()
    src, n_def = re.subn(r"\ndef _pair\(.*?\n(?=\n\n)", "\n", src, flags=re.S)
    src, n_use = re.subn(r"height, width = _pair\(img_size\)", "height = width = img_size // 1  # an int only", src)
    assert n_def == 1 and n_use == 1 and "_pair" not in src
    (tmp_path / "models" / "vit.py").write_text(src)
    env = {"PYTHONPATH": f"{tmp_path}:{repo}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", INT_ONLY_PROBE], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ok HybridPatchEmbed" in proc.stdout


def test_pretrained_resize_needs_only_the_contracts_num_patches():
    """A student's PatchEmbed promises ``.proj`` and ``.num_patches`` (DESIGN.md §4), not the
    skeleton's ``grid_size``: fine-tuning at another image size must still resize the position table."""
    from models.vit import VisionTransformer
    from models.vit_zoo import adapt_state_dict

    dims = dict(patch_size=8, num_classes=3, embed_dim=16, depth=1, num_heads=2, mlp_dim=32)
    src = VisionTransformer(img_size=32, **dims).state_dict()
    model = VisionTransformer(img_size=48, **dims)
    del model.patch_embed.grid_size  # a student's constructor need not set it
    state, info = adapt_state_dict(src, model)
    assert state["encoder.pos_embed.pos_embedding"].shape == (1, 1 + 36, 16)
    assert info["pos_resized"] == ((1, 17, 16), (1, 37, 16))


def test_fused_attention_refuses_a_students_renamed_attributes_in_one_line(monkeypatch):
    """The fused path reads the skeleton's ``num_heads``/``attn_drop``/``proj_drop``, which the
    contract does not fix: a student's own constructor without them gets a FusedAttentionError
    (one ``main.py: error:`` line), not an AttributeError from deep inside the first training step."""
    import main

    m = MultiHeadSelfAttention(8, 2)
    m.heads = m.__dict__.pop("num_heads")  # a student's own names
    m._modules["adrop"] = m._modules.pop("attn_drop")
    with pytest.raises(FusedAttentionError, match=r"lacks self\.num_heads, self\.attn_drop"):
        set_fused_attention(m, True)
    assert type(m) is MultiHeadSelfAttention
    assert issubclass(FusedAttentionError, main.USER_ERRORS)
