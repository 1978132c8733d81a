"""models/hybrid.py: R50+ViT-B/16 and R26+ViT-S/32 give timm's logits after conversion, and
hybrids load pretrained weights into another image size and class count."""
from __future__ import annotations

import pytest
import timm
import torch

from models.hybrid import HybridVisionTransformer, convert_timm_hybrid_state_dict
from models.registry import MODELS
from tests.test_vit_helpers import assert_close, materialize_double, small_cfg


@pytest.mark.parametrize("entry, timm_arch, side", [
    ("hybrid_r26_s32", "vit_small_r26_s32_224", 64),  # stride 32: 2 x 2 tokens
    ("hybrid_r50_b16", "vit_base_r50_s16_224", 32),  # stride 16: 2 x 2 tokens
])
def test_hybrid_matches_timm(entry, timm_arch, side):
    with torch.device("meta"):
        ref = timm.create_model(timm_arch, pretrained=False, num_classes=7, img_size=side)
        ours = MODELS.get(entry)(small_cfg("DATA.IMG_SIZE", side), 7)
    ref = materialize_double(ref, seed=0)
    ours.load_state_dict(convert_timm_hybrid_state_dict(ref.state_dict()), strict=True, assign=True)
    ours.eval()
    assert ours.patch_embed.grid_size == tuple(ref.patch_embed.grid_size)
    x = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        assert_close(ours(x), ref(x), f"{entry} logits vs timm {timm_arch}")


def test_hybrid_pretrained_into_other_size_and_classes(tmp_path):
    torch.manual_seed(0)
    dims = ["MODEL.HYBRID.LAYERS", "[1, 1]", "MODEL.VIT.EMBED_DIM", 16, "MODEL.VIT.DEPTH", 1,
            "MODEL.VIT.NUM_HEADS", 2, "MODEL.VIT.MLP_DIM", 32]
    src = MODELS.get("hybrid")(small_cfg("DATA.IMG_SIZE", 32, *dims), 5)  # stride 8: 4 x 4 tokens
    path = tmp_path / "hybrid.pth"
    torch.save(src.state_dict(), path)
    model = MODELS.get("hybrid")(small_cfg("DATA.IMG_SIZE", 48, "MODEL.PRETRAINED", str(path), *dims), 3)
    assert model.encoder.pos_embed.pos_embedding.shape == (1, 1 + 36, 16)
    assert torch.count_nonzero(model.head.weight) == 0
    stem = "patch_embed.backbone.stem.conv.weight"
    assert torch.equal(model.state_dict()[stem], src.state_dict()[stem])


def test_hybrid_bad_image_size():
    with pytest.raises(ValueError, match="stride 16"):
        HybridVisionTransformer(img_size=40, layers=(3, 4, 9))
