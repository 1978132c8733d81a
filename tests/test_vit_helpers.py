"""Helpers shared by the ViT, hybrid and pretrained-weight tests, and a test of the helpers."""
from __future__ import annotations

import torch
from torch import nn

from config import load_config


def small_cfg(*opts: str):
    """A frozen config from ``KEY VALUE`` strings (values parsed as YAML, as on the command line)."""
    return load_config(None, [str(o) for o in opts])


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fills every parameter with seeded random values, in place (norm scales around 1, the rest
    around 0), so that equivalence tests cannot pass by symmetry or zero inits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype)
            if p.ndim == 1 and name.endswith("weight"):  # LayerNorm / GroupNorm scales
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.05 * noise)
    return model


def materialize_double(model: nn.Module, seed: int = 0) -> nn.Module:
    """A model built on the meta device, given storage on the CPU in float64 and random values."""
    return randomize_(model.to_empty(device="cpu").double(), seed).eval()


def assert_close(ours: torch.Tensor, ref: torch.Tensor, what: str, atol: float = 1e-10) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != reference {tuple(ref.shape)}"
    err = (ours - ref).abs().max().item()
    assert err <= atol, f"{what}: max abs difference {err:.3e} > {atol:g} (reference max {ref.abs().max().item():.3e})"


def test_randomize_changes_every_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    before = [p.detach().clone() for p in model.parameters()]
    randomize_(model, seed=1)
    for old, new in zip(before, model.parameters()):
        assert not torch.equal(old, new), "randomize_ left a parameter unchanged"
