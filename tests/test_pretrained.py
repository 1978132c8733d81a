"""MODEL.PRETRAINED: local checkpoints (ours and timm's format) into another image size and class
count, the zero head, the bilinear position-table resize, and the error messages."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer as TimmViT

import models.vit_zoo as zoo
from models.registry import MODELS
from models.vit import VisionTransformer
from tests.test_vit_helpers import small_cfg

DIMS = ["MODEL.VIT.PATCH_SIZE", 4, "MODEL.VIT.EMBED_DIM", 16, "MODEL.VIT.DEPTH", 2,
        "MODEL.VIT.NUM_HEADS", 2, "MODEL.VIT.MLP_DIM", 32]


def _hand_bilinear(grid: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize of an [h, w, D] array, pixel centres aligned (align_corners=False), by hand."""
    in_h, in_w, _ = grid.shape

    def taps(n_out: int, n_in: int):
        for i in range(n_out):
            src = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            yield i0, i1, src - i0

    out = np.zeros((out_h, out_w, grid.shape[2]))
    for r, (r0, r1, wr) in enumerate(taps(out_h, in_h)):
        for c, (c0, c1, wc) in enumerate(taps(out_w, in_w)):
            out[r, c] = ((1 - wr) * (1 - wc) * grid[r0, c0] + (1 - wr) * wc * grid[r0, c1]
                         + wr * (1 - wc) * grid[r1, c0] + wr * wc * grid[r1, c1])
    return out


@pytest.fixture
def source_vit(tmp_path):
    """A tiny ViT at 16x16 (4x4 patch grid) with 5 classes, saved as our-format state dict."""
    torch.manual_seed(0)
    model = MODELS.get("vit")(small_cfg("DATA.IMG_SIZE", 16, *DIMS), 5)
    path = tmp_path / "tiny_vit.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_local_checkpoint_into_other_size_and_classes(source_vit):
    src, path = source_vit
    model = MODELS.get("vit")(small_cfg("DATA.IMG_SIZE", 24, "MODEL.PRETRAINED", str(path), *DIMS), 3)
    assert torch.count_nonzero(model.head.weight) == 0 and torch.count_nonzero(model.head.bias) == 0
    assert model.head.weight.shape == (3, 16)
    assert torch.equal(model.encoder.layers[1].attn.qkv.weight, src.encoder.layers[1].attn.qkv.weight)
    assert torch.equal(model.cls_token, src.cls_token)
    old = src.encoder.pos_embed.pos_embedding.detach()  # (1, 1 + 4 * 4, 16)
    new = model.encoder.pos_embed.pos_embedding.detach()  # (1, 1 + 6 * 6, 16)
    assert new.shape == (1, 37, 16)
    assert torch.equal(new[:, 0], old[:, 0]), "the class token's position entry must be kept"
    expected = _hand_bilinear(old[0, 1:].reshape(4, 4, 16).double().numpy(), 6, 6).reshape(36, 16)
    np.testing.assert_allclose(new[0, 1:].double().numpy(), expected, atol=1e-6,
                               err_msg="resized position table differs from a hand bilinear resize")
    out = model(torch.randn(2, 3, 24, 24))
    assert torch.count_nonzero(out) == 0, "a zero head gives zero logits"


def test_same_classes_keep_head_and_training_checkpoint_format(source_vit, tmp_path):
    src, _ = source_vit
    path = tmp_path / "ckpt.pth"  # a training checkpoint from DDP: weights under "model", "module." prefix
    torch.save({"model": {f"module.{k}": v for k, v in src.state_dict().items()}, "epoch": 3}, path)
    model = MODELS.get("vit")(small_cfg("DATA.IMG_SIZE", 16, *DIMS), 5)
    info = zoo.load_pretrained(model, str(path))
    assert info["head_reset"] is False and info["pos_resized"] is None
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(model.eval()(x), src.eval()(x), msg="same size and classes: identical logits")


def test_timm_format_safetensors(tmp_path):
    torch.manual_seed(0)
    ref = TimmViT(img_size=16, patch_size=4, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0, num_classes=1000)
    path = tmp_path / "timm_vit.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    model = MODELS.get("vit")(small_cfg("DATA.IMG_SIZE", 32, "MODEL.PRETRAINED", str(path), *DIMS), 10)
    assert torch.equal(model.encoder.layers[0].mlp.fc1.weight, ref.blocks[0].mlp.fc1.weight)
    assert torch.equal(model.encoder.norm.weight, ref.norm.weight)
    assert model.encoder.pos_embed.pos_embedding.shape == (1, 65, 16)
    assert torch.count_nonzero(model.head.weight) == 0


def test_resize_pos_embed_keeps_values_on_same_grid():
    pos = torch.randn(1, 1 + 9, 4)
    assert torch.allclose(zoo.resize_pos_embed(pos, (3, 3)), pos, atol=1e-6)
    with pytest.raises(zoo.PretrainedWeightsError, match="not a square number"):
        zoo.resize_pos_embed(torch.randn(1, 1 + 6, 4), (3, 3))


def test_missing_file_names_the_path(tmp_path):
    missing = str(tmp_path / "nope.pth")
    with pytest.raises(zoo.PretrainedWeightsError, match="no such file"):
        zoo.load_pretrained(VisionTransformer(16, 4, 3, 3, 16, 1, 2, 32), missing)


def test_offline_tag_says_how_to_use_a_local_file(monkeypatch):
    import timm

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(zoo.PretrainedWeightsError) as err:
        zoo.fetch_timm_state_dict("augreg_in21k", "vit_tiny_patch16_224")
    msg = str(err.value)
    for part in ("vit_tiny_patch16_224.augreg_in21k", "MODEL.PRETRAINED", "local", "huggingface"):
        assert part in msg, f"offline error should mention {part!r}: {msg}"


def test_unknown_tag_lists_known_ones():
    with pytest.raises(zoo.PretrainedWeightsError, match="augreg_in21k"):
        zoo.fetch_timm_state_dict("no_such_tag", "vit_tiny_patch16_224")


def test_wrong_architecture_is_explained(source_vit):
    _, path = source_vit
    other = VisionTransformer(16, 4, 3, 5, embed_dim=32, depth=2, num_heads=2, mlp_dim=32)
    with pytest.raises(zoo.PretrainedWeightsError, match="does not fit"):
        zoo.load_pretrained(other, str(path))
