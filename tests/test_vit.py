"""models/vit.py and models/vit_zoo.py: timm equivalence, sizes, the fused switch, the registry,
and the student regions (nbgrader markers)."""
from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import timm
import torch
from timm.models.vision_transformer import VisionTransformer as TimmViT

import models.hybrid  # noqa: F401  (registers the hybrids)
import models.vit_zoo  # noqa: F401  (registers the ViT sizes)
from models.registry import MODELS
from models.vit import (
    MultiHeadSelfAttention,
    VisionTransformer,
    convert_timm_state_dict,
    count_parameters,
)
from models.vit_zoo import VIT_SIZES, FusedMultiHeadSelfAttention, set_fused_attention
from tests.test_vit_helpers import assert_close, materialize_double, randomize_, small_cfg

VIT_PY = Path(__file__).resolve().parents[1] / "models" / "vit.py"
STUDENT_CLASSES = [
    "PatchEmbed", "AddPositionEmbs", "MlpBlock", "MultiHeadSelfAttention",
    "Encoder1DBlock", "Encoder", "VisionTransformer",
]


def _timm_twin_and_ours(timm_kwargs: dict, ours_factory):
    """timm's model with random float64 weights, and ours loaded from it through the converter."""
    with torch.device("meta"):
        ref = TimmViT(class_token=True, global_pool="token", **timm_kwargs)
        ours = ours_factory()
    ref = materialize_double(ref, seed=0)
    missing = ours.load_state_dict(convert_timm_state_dict(ref.state_dict()), strict=True, assign=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    return ref, ours.eval()


def test_matches_timm_vit_ti16_at_224():
    kw = dict(img_size=224, patch_size=16, embed_dim=192, depth=12, num_heads=3, num_classes=10)
    ref, ours = _timm_twin_and_ours(kw, lambda: VisionTransformer(224, 16, 3, 10, 192, 12, 3, 768))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        assert_close(ours(x), ref(x), "ViT-Ti/16 logits vs timm")


def test_matches_timm_cifar_variant_at_32_forward_and_backward():
    # vit_ti4 from the registry, with dropout on (eval mode must be deterministic).
    cfg = small_cfg("DATA.IMG_SIZE", 32, "MODEL.DROP_RATE", 0.1, "MODEL.VIT.ATTN_DROP_RATE", 0.1)
    kw = dict(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3, num_classes=10,
              drop_rate=0.1, attn_drop_rate=0.1)
    ref, ours = _timm_twin_and_ours(kw, lambda: MODELS.get("vit_ti4")(cfg, 10))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_o, out_r = ours(xo), ref(xr)
    assert_close(out_o, out_r, "CIFAR ViT (patch 4 at 32x32) logits vs timm")
    out_o.square().sum().backward()
    out_r.square().sum().backward()
    assert_close(xo.grad, xr.grad, "input gradient vs timm")


def test_matches_timm_vit_b16_at_224():
    cfg = small_cfg("DATA.IMG_SIZE", 224)
    kw = dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12, num_classes=5)
    ref, ours = _timm_twin_and_ours(kw, lambda: MODELS.get("vit_b16")(cfg, 5))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        assert_close(ours(x), ref(x), "ViT-B/16 logits vs timm")


# The ViT paper's Table 1 (rounded, millions) next to the counts here and in timm (1000 classes).
@pytest.mark.parametrize("name, timm_arch, paper_millions", [
    ("vit_b16", "vit_base_patch16_224", 86),
    ("vit_l16", "vit_large_patch16_224", 307),
    ("vit_h14", "vit_huge_patch14_224", 632),
])
def test_parameter_counts_match_timm_and_the_paper(name, timm_arch, paper_millions):
    cfg = small_cfg("DATA.IMG_SIZE", 224)
    with torch.device("meta"):  # counts without allocating weights
        ours = MODELS.get(name)(cfg, 1000)
        ref = timm.create_model(timm_arch, pretrained=False, num_classes=1000)
    n_ours, n_ref = count_parameters(ours), count_parameters(ref)
    assert n_ours == n_ref, f"{name}: {n_ours:,} parameters, timm {timm_arch}: {n_ref:,}"
    assert abs(n_ours / 1e6 - paper_millions) / paper_millions < 0.015, f"{name}: {n_ours:,} vs paper {paper_millions}M"


def test_sizes_follow_the_paper_table():
    # Layers, hidden size D, MLP size, heads (ViT paper Table 1).
    for name, (depth, dim, mlp, heads) in {
        "vit_b16": (12, 768, 3072, 12), "vit_l16": (24, 1024, 4096, 16), "vit_h14": (32, 1280, 5120, 16),
    }.items():
        s = VIT_SIZES[name]
        assert (s.depth, s.embed_dim, s.mlp_dim, s.num_heads) == (depth, dim, mlp, heads), name


def test_fused_attention_matches_plain_path():
    cfg = small_cfg("DATA.IMG_SIZE", 16, "MODEL.VIT.PATCH_SIZE", 4, "MODEL.VIT.EMBED_DIM", 24,
                    "MODEL.VIT.DEPTH", 2, "MODEL.VIT.NUM_HEADS", 3, "MODEL.VIT.MLP_DIM", 48)
    fused_cfg = small_cfg("DATA.IMG_SIZE", 16, "MODEL.VIT.PATCH_SIZE", 4, "MODEL.VIT.EMBED_DIM", 24,
                          "MODEL.VIT.DEPTH", 2, "MODEL.VIT.NUM_HEADS", 3, "MODEL.VIT.MLP_DIM", 48,
                          "MODEL.VIT.FUSED_ATTN", True)
    torch.manual_seed(0)
    plain = randomize_(MODELS.get("vit")(cfg, 7).double())
    fused = MODELS.get("vit")(fused_cfg, 7).double()
    fused.load_state_dict(plain.state_dict())
    kinds = {type(m) for m in fused.modules() if isinstance(m, MultiHeadSelfAttention)}
    assert kinds == {FusedMultiHeadSelfAttention}, f"MODEL.VIT.FUSED_ATTN left {kinds}"
    x = torch.randn(3, 3, 16, 16, dtype=torch.float64)
    out_p, out_f = plain.train()(x), fused.train()(x)  # dropout 0: training mode is deterministic
    assert_close(out_f, out_p, "fused vs plain logits")
    out_p.sum().backward()
    out_f.sum().backward()
    assert_close(fused.head.weight.grad, plain.head.weight.grad, "fused vs plain head gradient")
    set_fused_attention(fused, False)
    assert all(type(m) is MultiHeadSelfAttention for m in fused.modules() if isinstance(m, MultiHeadSelfAttention))


REAL_SIZE = {  # entry -> image side for a real CPU forward+backward
    "vit": 16, "vit_ti16": 32, "vit_ti4": 16, "vit_lite7_4": 16, "vit_ti8": 16, "vit_s16": 32, "vit_s32": 64,
    "vit_s4": 16, "vit_s8": 16, "vit_b16": 32, "vit_b32": 64, "hybrid": 32, "hybrid_r26_s32": 32,
    "hybrid_r50_b16": 32,
}
# ViT-L and ViT-H (0.3 and 0.6 billion parameters): forward+backward on the meta device (shapes
# and autograd, no arithmetic) by default; the slow test below runs them for real.
META_SIZE = {"vit_l16": 32, "vit_l32": 64, "vit_h14": 28}


def test_every_vit_and_hybrid_entry_is_covered():
    names = {n for n in MODELS.names() if n.startswith(("vit", "hybrid"))}
    assert names == set(REAL_SIZE) | set(META_SIZE), "add new entries to REAL_SIZE or META_SIZE"


@pytest.mark.parametrize("name", sorted(REAL_SIZE))
def test_entry_forward_backward_on_cpu(name):
    torch.manual_seed(0)
    opts = ["DATA.IMG_SIZE", REAL_SIZE[name], "MODEL.DROP_RATE", 0.1]
    if name == "hybrid":
        opts += ["MODEL.HYBRID.LAYERS", "[1, 1]", "MODEL.VIT.DEPTH", 1]
    model = MODELS.get(name)(small_cfg(*opts), 3).train()
    batch = 1 if name.startswith(("vit_b", "hybrid_r50")) else 2
    out = model(torch.randn(batch, 3, REAL_SIZE[name], REAL_SIZE[name]))
    assert out.shape == (batch, 3) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    assert all(p.grad is not None for p in model.parameters()), f"{name}: a parameter got no gradient"


@pytest.mark.parametrize("name", sorted(META_SIZE))
def test_large_entry_forward_backward_on_meta(name):
    side = META_SIZE[name]
    with torch.device("meta"):
        model = MODELS.get(name)(small_cfg("DATA.IMG_SIZE", side), 3)
        out = model(torch.randn(2, 3, side, side))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert model.head.weight.grad is not None and model.head.weight.grad.shape == model.head.weight.shape


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(META_SIZE))
def test_large_entry_forward_backward_on_cpu(name):
    """The real-arithmetic version of the meta test above (tens of seconds and several GB of memory)."""
    side = META_SIZE[name]
    model = MODELS.get(name)(small_cfg("DATA.IMG_SIZE", side), 3).train()
    out = model(torch.randn(1, 3, side, side))
    assert out.shape == (1, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_convert_timm_state_dict_renames_keys():
    t = torch.zeros(1)
    sd = {"pos_embed": t, "blocks.3.attn.qkv.weight": t, "norm.bias": t, "cls_token": t,
          "patch_embed.proj.weight": t, "head.weight": t}
    out = convert_timm_state_dict(sd)
    assert set(out) == {"encoder.pos_embed.pos_embedding", "encoder.layers.3.attn.qkv.weight", "encoder.norm.bias",
                        "cls_token", "patch_embed.proj.weight", "head.weight"}
    assert convert_timm_state_dict(out) == out, "already-converted keys must pass through"


def test_init_like_timm():
    torch.manual_seed(0)
    model = VisionTransformer(32, 4, 3, 10, 64, 2, 4, 128)
    assert torch.count_nonzero(model.cls_token) == 0
    pos = model.encoder.pos_embed.pos_embedding
    assert 0.015 < pos.std().item() < 0.025  # truncated normal, std .02
    qkv = model.encoder.layers[0].attn.qkv
    assert torch.count_nonzero(qkv.bias) == 0 and 0.015 < qkv.weight.std().item() < 0.025


def test_bad_sizes_give_clear_errors():
    with pytest.raises(ValueError, match="multiple of the patch size 16"):
        VisionTransformer(img_size=40, patch_size=16)
    with pytest.raises(ValueError, match="not divisible by num_heads 5"):
        VisionTransformer(img_size=32, patch_size=4, embed_dim=64, num_heads=5)


# ------------------------------------------------------------------------------------------------
# Student regions
# ------------------------------------------------------------------------------------------------
def _forward_bodies(source: str) -> dict[str, str]:
    """Class name -> text of its forward method."""
    bodies = {}
    for match in re.finditer(r"^class (\w+)\(nn\.Module\):\n(.*?)(?=^class |^def |\Z)", source, re.S | re.M):
        fwd = re.search(r"    def forward\(.*", match.group(2), re.S)
        bodies[match.group(1)] = fwd.group(0) if fwd else ""
    return bodies


def test_each_student_forward_has_one_marked_region():
    source = VIT_PY.read_text()
    bodies = _forward_bodies(source)
    for name in STUDENT_CLASSES:
        body = bodies[name]
        begins = re.findall(r"^( *)### BEGIN SOLUTION$", body, re.M)
        ends = re.findall(r"^( *)### END SOLUTION$", body, re.M)
        assert len(begins) == len(ends) == 1, f"{name}.forward: expected one marker pair on their own lines"
        assert begins == ends == ["        "], f"{name}.forward: markers must sit at the body's indentation"
    assert source.count("### BEGIN SOLUTION") == len(STUDENT_CLASSES), "markers outside the forward passes"


def test_stripped_handout_imports_and_forwards_raise():
    from nbformat.v4 import new_code_cell, new_notebook
    from nbgrader.preprocessors import ClearSolutions

    nb = new_notebook(cells=[new_code_cell(VIT_PY.read_text())])
    nb, _ = ClearSolutions(enforce_metadata=False).preprocess(nb, {"language": "python"})
    stripped = nb.cells[0].source
    assert "BEGIN SOLUTION" not in stripped and "self.scale  # (B, h, T, T)" not in stripped
    handout = types.ModuleType("vit_handout")
    exec(compile(stripped, "vit_handout.py", "exec"), handout.__dict__)
    model = handout.VisionTransformer(img_size=16, patch_size=4, num_classes=3, embed_dim=24, depth=1,
                                      num_heads=2, mlp_dim=48)
    assert model.encoder.layers[0].attn.qkv.out_features == 72  # constructors stay in the handout
    with pytest.raises(NotImplementedError):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(NotImplementedError):
        model.encoder.layers[0].mlp(torch.randn(1, 5, 24))
