"""What each graded code item runs: its seeded configurations and the grader's reference for them.

The references are public code: timm's layers for the leaf classes (``PatchEmbed``, ``Mlp``,
``Attention``) and the whole model (``VisionTransformer``), torchvision's ``AlexNet`` and
``BasicBlock``, and for the container classes timm's ``Block`` or the composition the handout's
docstrings state, around the same stand-ins the child swaps in (``autograder.tasks.make_part``).
The tests check every reference against the staff's solution in ``models/``. Everything runs in
float64 on the grader's side; the student's class runs in the sandboxed child with the same weights
and inputs.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from autograder.tasks import make_part, materialize, run_model, tensor_use_order, trace_layers


def timm_patch_embed(kw: dict) -> nn.Module:
    """timm's ``PatchEmbed`` for images of ``kw["image"]`` = (height, width) (or ``kw["img_size"]``)."""
    from timm.layers import PatchEmbed

    size = kw.get("image", kw["img_size"])
    size = (size, size) if isinstance(size, int) else tuple(size)
    return PatchEmbed(size, kw["patch_size"], kw["in_chans"], kw["embed_dim"], strict_img_size=False)


def timm_mlp(kw: dict) -> nn.Module:
    from timm.layers import Mlp

    return Mlp(kw["embed_dim"], kw["mlp_dim"], act_layer=nn.GELU, drop=kw["dropout"])


def timm_attention(kw: dict) -> nn.Module:
    from timm.layers import Attention

    attn = Attention(kw["embed_dim"], kw["num_heads"], qkv_bias=kw["qkv_bias"], attn_drop=kw["attn_dropout"],
                     proj_drop=kw["proj_dropout"])
    attn.fused_attn = False  # the explicit softmax path
    return attn

ITEM_NAMES = (
    "vit/PatchEmbed", "vit/AddPositionEmbs", "vit/MlpBlock", "vit/MultiHeadSelfAttention",
    "vit/Encoder1DBlock", "vit/Encoder", "vit/VisionTransformer", "vit/end_to_end",
    "alexnet/AlexNet", "resnet/BasicBlock",
)


@dataclass
class Case:
    """One seeded configuration of an item.

    Args:
        label: the configuration in words, for feedback (sizes, heads, batch, mode).
        payload: what the child gets (``kwargs``, ``swaps``, weights, ``inputs``, ``grad_out`` ...).
        reference: the module the reference comes from (weights loaded), or None (count cases).
        expected: the reference's result (as ``run_model`` returns it), or ``{"param_count": n}``.
    """

    label: str
    payload: dict
    reference: nn.Module | None = None
    expected: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """A graded code item: which class of which student file, and how its cases are made."""

    name: str
    file: str  # the student's file, relative to the submission root
    module: str
    cls: str
    make_cases: Callable[[], list[Case]]
    compared: str  # what is compared, in words


def randomize_(module: nn.Module, seed: int, numel_max: int = 1 << 62) -> nn.Module:
    """Fills every parameter and floating buffer with seeded random values of a sensible scale.

    Norm weights near 1, other vectors near 0, matrices with std 1/sqrt(fan_in), batch-norm
    variances in [0.5, 1.5], probe tables near 1.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.numel() > numel_max:  # set by the caller (drawn from a seed on both sides)
                continue
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if p.dim() == 1 and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif p.dim() == 1:
                p.copy_(0.2 * noise)
            else:
                p.copy_(noise / (p[0].numel() ** 0.5))
        for name, b in module.named_buffers():
            if not b.is_floating_point():
                continue
            if name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen, dtype=torch.float64))
            elif name.endswith("scale"):
                b.copy_(1 + 0.5 * torch.randn(b.shape, generator=gen, dtype=torch.float64))
            else:
                b.copy_(0.2 * torch.randn(b.shape, generator=gen, dtype=torch.float64))
    return module


def _tensor(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _finish(label: str, payload: dict, ref: nn.Module, out_shape: tuple, seed: int) -> Case:
    """Adds the upstream gradient, runs the reference, returns the case."""
    payload.setdefault("seed", seed)
    payload.setdefault("repeat", 2)
    payload["grad_out"] = _tensor(seed + 1, *out_shape)
    ref.eval()
    return Case(label, payload, ref, run_model(ref, payload))


def _state_case(label: str, kwargs: dict, ref: nn.Module, inputs: list, out_shape: tuple, seed: int,
                swaps: dict | None = None, **extra) -> Case:
    ref = randomize_(ref.double(), seed)
    payload = {"kwargs": kwargs, "swaps": swaps or {}, "state": copy.deepcopy(ref.state_dict()),
               "inputs": inputs, **extra}
    return _finish(label, payload, ref, out_shape, seed)


# ---------------------------------------------------------------- ViT (the container references)
# The references of AddPositionEmbs, Encoder and VisionTransformer spell out those forwards, so
# they live in the staff-only autograder/staff/containers.py (not in the handout). `check` grades
# these three items on public cases of other seeds and sizes, shipped as numbers
# (autograder/grading/public.py builds them with the staff's references).


def _staff_ref(name: str) -> type:
    from autograder.staff import containers  # staff-only: absent from the handout

    return getattr(containers, name)


def _block_ref(kw: dict) -> nn.Module:
    """timm's pre-LN ``Block`` around the same attention and MLP stand-ins the child uses."""
    from functools import partial

    from timm.models.vision_transformer import Block

    block = Block(kw["embed_dim"], kw["num_heads"], norm_layer=partial(nn.LayerNorm, eps=1e-6))
    block.attn = make_part("attention", kw)
    block.mlp = make_part("mlp", kw)
    block.dropout = nn.Dropout(kw["dropout"])  # the handout's attribute (no weights), for the mistakes
    return block


def patch_embed_cases() -> list[Case]:
    """The contract builds ``PatchEmbed`` with an int ``img_size``; non-square coverage comes from
    the input (a module built with an int side, fed a non-square image: only ``forward`` is graded)."""
    cases = []
    for i, (side, h, w, p, c, d, b) in enumerate([(12, 12, 20, 4, 3, 8, 2), (15, 15, 15, 5, 2, 6, 3),
                                                  (9, 9, 6, 3, 1, 5, 1)]):
        kw = {"img_size": side, "patch_size": p, "in_chans": c, "embed_dim": d}
        n = (h // p) * (w // p)
        built = "" if (h, w) == (side, side) else f" (module built with img_size {side})"
        label = f"batch {b}, {c}x{h}x{w} images{built}, patch {p}, embed_dim {d}"
        cases.append(_state_case(label, kw, timm_patch_embed({**kw, "image": (h, w)}),
                                 [_tensor(100 + i, b, c, h, w)], (b, n, d), 100 + i))
    return cases


def add_position_cases(sizes: tuple = ((5, 7, 2), (17, 4, 3)), seed: int = 200) -> list[Case]:
    cases = []
    for i, (t, d, b) in enumerate(sizes):
        kw = {"num_tokens": t, "embed_dim": d}
        cases.append(_state_case(f"batch {b}, {t} tokens, embed_dim {d}", kw, _staff_ref("RefAddPositionEmbs")(t, d),
                                 [_tensor(seed + i, b, t, d)], (b, t, d), seed + i))
    return cases


def mlp_cases() -> list[Case]:
    cases = []
    for i, (d, m, p, b, t) in enumerate([(6, 11, 0.3, 2, 5), (9, 4, 0.0, 3, 1), (4, 8, 0.5, 1, 3)]):
        kw = {"embed_dim": d, "mlp_dim": m, "dropout": p}
        label = f"batch {b}, {t} tokens, embed_dim {d}, mlp_dim {m}, dropout {p} (eval mode)"
        cases.append(_state_case(label, kw, timm_mlp(kw), [_tensor(300 + i, b, t, d)], (b, t, d), 300 + i))
    return cases


def attention_cases() -> list[Case]:
    cases = []
    for i, (d, h, bias, ad, pd, b, t) in enumerate(
        [(12, 3, True, 0.2, 0.1, 2, 7), (8, 1, False, 0.0, 0.0, 1, 5), (10, 5, True, 0.3, 0.0, 3, 4),
         (12, 4, True, 0.0, 0.2, 2, 3)]
    ):
        kw = {"embed_dim": d, "num_heads": h, "qkv_bias": bias, "attn_dropout": ad, "proj_dropout": pd}
        label = (f"batch {b}, {t} tokens, embed_dim {d}, {h} head{'s' if h > 1 else ''}, qkv_bias {bias}, "
                 f"dropout {ad}/{pd} (eval mode)")
        cases.append(_state_case(label, kw, timm_attention(kw), [_tensor(400 + i, b, t, d)], (b, t, d), 400 + i))
    return cases


def block_cases() -> list[Case]:
    cases = []
    for i, (d, h, m, p, ap, bias, b, t) in enumerate([(12, 3, 20, 0.2, 0.1, True, 2, 6), (8, 2, 5, 0.0, 0.0, False, 3, 3)]):
        kw = {"embed_dim": d, "num_heads": h, "mlp_dim": m, "dropout": p, "attn_dropout": ap, "qkv_bias": bias}
        swaps = {"attn": ["attention", {**kw, "proj_dropout": 0.0}], "mlp": ["mlp", kw]}
        label = f"batch {b}, {t} tokens, embed_dim {d}, {h} heads, mlp_dim {m}, dropout {p}/{ap} (eval mode)"
        cases.append(_state_case(label, kw, _block_ref(kw), [_tensor(500 + i, b, t, d)], (b, t, d), 500 + i, swaps))
    return cases


def encoder_cases(sizes: tuple = ((6, 12, 2, 3, 16, 0.1, True, 2), (4, 8, 1, 2, 9, 0.0, False, 3)),
                  seed: int = 600) -> list[Case]:
    cases = []
    for i, (t, d, depth, h, m, p, bias, b) in enumerate(sizes):
        kw = {"num_tokens": t, "embed_dim": d, "depth": depth, "num_heads": h, "mlp_dim": m, "dropout": p,
              "attn_dropout": p, "qkv_bias": bias}
        swaps = {"pos_embed": ["scale_probe", kw], **{f"layers.{j}": ["block", kw] for j in range(depth)}}
        label = f"batch {b}, {t} tokens, embed_dim {d}, depth {depth}, {h} heads, dropout {p} (eval mode)"
        cases.append(_state_case(label, kw, _staff_ref("RefEncoder")(kw), [_tensor(seed + i, b, t, d)], (b, t, d),
                                 seed + i, swaps, record_order=True))
    return cases


def vit_cases(sizes: tuple = ((12, 4, 3, 5, 12, 1, 3, 16, 0.1, 2), (10, 5, 2, 3, 8, 2, 2, 10, 0.0, 3)),
              seed: int = 700) -> list[Case]:
    cases = []
    for i, (h, p, c, k, d, depth, nh, m, dr, b) in enumerate(sizes):  # img_size an int: square images
        w = h
        kw = {"img_size": h, "patch_size": p, "in_chans": c, "num_classes": k, "embed_dim": d, "depth": depth,
              "num_heads": nh, "mlp_dim": m, "dropout": dr, "attn_dropout": dr, "qkv_bias": True}
        n = (h // p) * (w // p)
        swaps = {"patch_embed": ["patch_embed", kw], "encoder": ["probe_encoder", {**kw, "num_tokens": n + 1}]}
        label = f"batch {b}, {c}x{h}x{w} images, patch {p}, embed_dim {d}, {nh} heads, {k} classes (eval mode)"
        cases.append(_state_case(label, kw, _staff_ref("RefVisionTransformer")(kw), [_tensor(seed + i, b, c, h, w)],
                                 (b, k), seed + i, swaps))
    return cases


def end_to_end_cases() -> list[Case]:
    from timm.models.vision_transformer import Attention, VisionTransformer

    cases = []
    for i, (h, p, c, k, d, depth, nh, ratio, dr, bias, b) in enumerate(
        [(12, 4, 3, 5, 12, 2, 3, 2, 0.1, True, 2), (6, 2, 1, 4, 8, 1, 2, 3, 0.0, False, 1)]
    ):  # img_size an int, as the contract gives it: square images
        w = h
        ref = VisionTransformer(img_size=h, patch_size=p, in_chans=c, num_classes=k, global_pool="token",
                                embed_dim=d, depth=depth, num_heads=nh, mlp_ratio=ratio, qkv_bias=bias,
                                class_token=True, drop_rate=dr, pos_drop_rate=dr, proj_drop_rate=dr,
                                attn_drop_rate=dr)
        for m in ref.modules():
            if isinstance(m, Attention):
                m.fused_attn = False
        ref = randomize_(ref.double(), 800 + i)
        kw = {"img_size": h, "patch_size": p, "in_chans": c, "num_classes": k, "embed_dim": d, "depth": depth,
              "num_heads": nh, "mlp_dim": d * ratio, "dropout": dr, "attn_dropout": dr, "qkv_bias": bias}
        payload = {"kwargs": kw, "timm_state": copy.deepcopy(ref.state_dict()), "inputs": [_tensor(800 + i, b, c, h, w)]}
        label = (f"your whole VisionTransformer against timm's (weights through convert_timm_state_dict): "
                 f"batch {b}, {c}x{h}x{w} images, patch {p}, embed_dim {d}, depth {depth}, {nh} heads (eval mode)")
        case = _finish(label, payload, ref, (b, k), 800 + i)
        case.expected["param_names"] = {n: timm_to_ours(n) for n in case.expected["param_order"]}
        cases.append(case)
    return cases


def timm_to_ours(name: str) -> str:
    """A timm ViT parameter name in the handout's naming (the contract's conversion rules)."""
    if name == "pos_embed":
        return "encoder.pos_embed.pos_embedding"
    if name.startswith("blocks."):
        return "encoder.layers." + name[len("blocks."):]
    if name.startswith("norm."):
        return "encoder." + name
    return name


# ---------------------------------------------------------------- AlexNet and the ResNet block

def _ordered_case(label: str, kwargs: dict, ref: nn.Module, inputs: list, out_shape: tuple, seed: int,
                  train: bool = False, send_numel_max: int = 200_000, grad_numel_max: int = 1 << 62) -> Case:
    """A case for a class whose layers the student writes: the weights go in layer by layer,
    matched by role (``autograder.tasks.match_layers``: shapes, where each layer's input comes
    from, the order they run in), never by the order or the names ``__init__`` gives them.

    Tensors above ``send_numel_max`` entries travel as a seed, drawn on both sides.
    """
    ref = ref.double()
    randomize_(ref, seed, numel_max=send_numel_max)
    specs = {}
    with torch.no_grad():
        for j, (name, prm) in enumerate(ref.named_parameters()):
            if prm.numel() > send_numel_max:
                spec = {"seed": seed * 1000 + j, "shape": list(prm.shape), "std": 1 / prm[0].numel() ** 0.5}
                materialize(spec, out=prm)
                specs[name] = spec
            else:
                specs[name] = prm.detach().clone()
    for prm in ref.parameters():
        prm.requires_grad_(prm.numel() <= grad_numel_max)
    buffers = {n: b.detach().clone() for n, b in ref.named_buffers() if b.is_floating_point()}
    matched = {"layers": trace_layers(ref, inputs), "uses": tensor_use_order(ref, inputs), "params": specs,
               "buffers": buffers, "grad_numel_max": grad_numel_max}
    payload = {"kwargs": kwargs, "matched": matched, "inputs": inputs, "train": train, "repeat": 1 if train else 2,
               "meta_init": True}
    payload.setdefault("seed", seed)
    payload["grad_out"] = _tensor(seed + 1, *out_shape)
    ref.train(train)
    case = Case(label, payload, ref, run_model(ref, payload))
    case.expected.update(param_names="matched", layers=matched["layers"])
    return case


def torchvision_block(in_planes: int, planes: int, stride: int) -> nn.Module:
    """torchvision's ``BasicBlock`` with a 1x1-conv + batch-norm shortcut where the shape changes
    (same registration order as the handout's block, which calls it ``shortcut``)."""
    down = None
    if stride != 1 or in_planes != planes:
        down = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    return _shortcut_block_class()(in_planes, planes, stride, down)


@functools.cache  # torchvision is imported when a block is first made, not with this module
def _shortcut_block_class() -> type:
    from torchvision.models.resnet import BasicBlock

    class ShortcutBlock(BasicBlock):
        @property
        def shortcut(self) -> nn.Module:  # the handout's name, so the catalogue of mistakes applies
            return self.downsample if self.downsample is not None else nn.Identity()

    return ShortcutBlock



def alexnet_cases() -> list[Case]:
    from torchvision.models import AlexNet

    with torch.device("meta"):  # the expected count, from torchvision's AlexNet at grading time
        count = sum(p.numel() for p in AlexNet(num_classes=200).parameters())
    b, size, k = 2, 67, 10
    torch.set_default_dtype(torch.float64)
    try:
        with torch.device("meta"):  # no point drawing torchvision's init: every weight is replaced
            ref = AlexNet(num_classes=k, dropout=0.5)
    finally:
        torch.set_default_dtype(torch.float32)
    ref = ref.to_empty(device="cpu")
    case = _ordered_case(f"batch {b}, 3x{size}x{size} images, {k} classes, dropout 0.5 (eval mode)",
                         {"num_classes": k, "dropout": 0.5}, ref,
                         [_tensor(900, b, 3, size, size)], (b, k), 900, grad_numel_max=1_000_000)
    count_case = Case("parameter count with 200 classes", {"meta_count": {"num_classes": 200}},
                      None, {"param_count": count})
    return [case, count_case]


def basic_block_cases() -> list[Case]:
    cases = []
    for i, (cin, planes, stride, train, b, h, w) in enumerate(
        [(4, 4, 1, False, 2, 7, 7), (3, 6, 2, False, 2, 9, 9), (4, 6, 1, True, 3, 5, 6), (5, 5, 2, True, 2, 6, 6)]
    ):
        label = (f"in_planes {cin}, planes {planes}, stride {stride}, batch {b}, {h}x{w} "
                 f"({'train mode: batch statistics' if train else 'eval mode: running statistics'})")
        out_shape = (b, planes, (h - 1) // stride + 1, (w - 1) // stride + 1)
        cases.append(_ordered_case(label, {"in_planes": cin, "planes": planes, "stride": stride},
                                   torchvision_block(cin, planes, stride), [_tensor(1000 + i, b, cin, h, w)],
                                   out_shape, 1000 + i, train=train))
    return cases


_WHAT = "the output, the gradients of the input and of every parameter, and that two runs in eval mode agree"
ITEMS: dict[str, Item] = {
    "vit/PatchEmbed": Item("vit/PatchEmbed", "models/vit.py", "models.vit", "PatchEmbed", patch_embed_cases, _WHAT),
    "vit/AddPositionEmbs": Item("vit/AddPositionEmbs", "models/vit.py", "models.vit", "AddPositionEmbs",
                                add_position_cases, _WHAT),
    "vit/MlpBlock": Item("vit/MlpBlock", "models/vit.py", "models.vit", "MlpBlock", mlp_cases, _WHAT),
    "vit/MultiHeadSelfAttention": Item("vit/MultiHeadSelfAttention", "models/vit.py", "models.vit",
                                       "MultiHeadSelfAttention", attention_cases, _WHAT),
    "vit/Encoder1DBlock": Item("vit/Encoder1DBlock", "models/vit.py", "models.vit", "Encoder1DBlock", block_cases,
                               _WHAT + " (its attention and MLP are stand-ins: torch's own layers)"),
    "vit/Encoder": Item("vit/Encoder", "models/vit.py", "models.vit", "Encoder", encoder_cases,
                        _WHAT + ", and the order the sub-modules run in (its blocks are torch's own transformer "
                        "layers and its position embedding is a probe that multiplies by a fixed table)"),
    "vit/VisionTransformer": Item("vit/VisionTransformer", "models/vit.py", "models.vit", "VisionTransformer",
                                  vit_cases, _WHAT + " (its patch embedding and encoder are stand-ins: one dense "
                                  "layer, and torch's transformer layers after a probe that tells token positions apart)"),
    "vit/end_to_end": Item("vit/end_to_end", "models/vit.py", "models.vit", "VisionTransformer", end_to_end_cases,
                           "your whole VisionTransformer (all your classes together) against timm's "
                           "VisionTransformer with the same weights: " + _WHAT),
    "alexnet/AlexNet": Item("alexnet/AlexNet", "models/alexnet.py", "models.alexnet", "AlexNet", alexnet_cases,
                            "the layers' parameter shapes (in any order), " + _WHAT
                            + " (gradients of the two 4096-wide linear layers are skipped), and the parameter count"),
    "resnet/BasicBlock": Item("resnet/BasicBlock", "models/resnet.py", "models.resnet", "BasicBlock",
                              basic_block_cases, "the layers' parameter and buffer shapes (in any order), " + _WHAT + ", in eval and train mode"),
}
assert tuple(ITEMS) == ITEM_NAMES

# The public cases `check` runs for the items whose references are staff-only: other seeds and
# sizes than the graded ones (built by autograder/grading/public.py, shipped as numbers).
PUBLIC_CASES: dict[str, Callable[[], list[Case]]] = {
    "vit/AddPositionEmbs": lambda: add_position_cases(((3, 6, 2), (9, 5, 1)), seed=250),
    "vit/Encoder": lambda: encoder_cases(((5, 8, 2, 2, 10, 0.1, True, 2),), seed=650),
    "vit/VisionTransformer": lambda: vit_cases(((8, 4, 3, 4, 8, 1, 2, 12, 0.1, 2),), seed=750),
}
