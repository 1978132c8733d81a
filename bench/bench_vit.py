"""Training speed of our ViT (fused attention, MODEL.VIT.FUSED_ATTN) against timm's
``VisionTransformer`` with the same dimensions and the same weights, side by side.

Each round times forward + backward of both models on the same batch, alternating, so that
both see the same machine load; reported are the median images/second of each and the median
of the per-round ratios (ours / timm; target >= 0.95).

    .venv/bin/python -m bench.bench_vit [--size vit_b16] [--img-size 224] [--batch 64] [--rounds 7]
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import torch
from timm.models.vision_transformer import VisionTransformer as TimmViT

from models.vit import VisionTransformer, convert_timm_state_dict
from models.vit_zoo import VIT_SIZES, set_fused_attention


def build_pair(size_name: str, img_size: int, num_classes: int = 1000):
    """Our fused ViT and timm's, same dims, ours loaded with timm's weights."""
    s = VIT_SIZES[size_name]
    ref = TimmViT(img_size=img_size, patch_size=s.patch_size, embed_dim=s.embed_dim, depth=s.depth,
                  num_heads=s.num_heads, mlp_ratio=s.mlp_dim / s.embed_dim, num_classes=num_classes)
    ours = VisionTransformer(img_size, s.patch_size, 3, num_classes, s.embed_dim, s.depth, s.num_heads, s.mlp_dim)
    ours.load_state_dict(convert_timm_state_dict(ref.state_dict()))
    return set_fused_attention(ours, True), ref


def step_time(model, x, autocast, steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` forward+backward passes (after one warm-up pass)."""
    def once():
        with autocast():
            loss = model(x).float().logsumexp(1).mean()
        loss.backward()
        model.zero_grad(set_to_none=True)

    once()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        once()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="vit_b16" if cuda else "vit_lite7_4", choices=sorted(VIT_SIZES))
    parser.add_argument("--img-size", type=int, default=224 if cuda else 32)
    parser.add_argument("--batch", type=int, default=64 if cuda else 8)
    parser.add_argument("--steps", type=int, default=20 if cuda else 2, help="passes per round")
    parser.add_argument("--rounds", type=int, default=7 if cuda else 5)
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--amp", default="bf16" if cuda else "none", choices=["none", "bf16", "fp16"])
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    ours, ref = build_pair(args.size, args.img_size)
    ours, ref = ours.to(device).train(), ref.to(device).train()
    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext

    ours_ips, ref_ips, ratios = [], [], []
    for r in range(args.rounds):
        first, second = ((ours, ref) if r % 2 == 0 else (ref, ours))  # alternate who runs first
        t = {id(m): step_time(m, x, autocast, args.steps, device) for m in (first, second)}
        o, f = args.batch * args.steps / t[id(ours)], args.batch * args.steps / t[id(ref)]
        ours_ips.append(o)
        ref_ips.append(f)
        ratios.append(o / f)
        print(f"round {r + 1}: ours {o:9.1f} img/s   timm {f:9.1f} img/s   ratio {o / f:.3f}", flush=True)

    print(f"\n{args.size} at {args.img_size}px, batch {args.batch}, {args.device}, amp {args.amp}, "
          f"forward+backward, {args.rounds} rounds x {args.steps} passes")
    print(f"ours (fused attention): median {statistics.median(ours_ips):.1f} img/s")
    print(f"timm VisionTransformer: median {statistics.median(ref_ips):.1f} img/s")
    print(f"ratio ours / timm: median {statistics.median(ratios):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
