"""The CNN models and the registry: parameter counts, forward and backward, unknown names."""
import pytest
import torch

from config import load_config
from models.build import build_model
from models.registry import MODELS


def make(name, num_classes, *opts):
    return build_model(load_config(None, ["MODEL.NAME", name, *opts]), num_classes)


@pytest.mark.parametrize("name, classes, expected", [
    ("lenet", 200, 99_276),         # the homework's published figure
    ("alexnet", 200, 57_823_240),   # 57.82M, the homework's published figure
    ("resnet18", 10, 11_173_962),   # CIFAR-stem ResNet-18
    ("resnet34", 10, 21_282_122),
])
def test_parameter_counts(name, classes, expected):
    model = make(name, classes)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("name, size", [("lenet", 32), ("alexnet", 70), ("resnet18", 32), ("resnet34", 32)])
def test_forward_backward(name, size):
    torch.manual_seed(0)
    model = make(name, 7)
    x = torch.randn(2, 3, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_timm_passthrough_with_kwargs():
    model = make("timm", 5, "MODEL.TIMM.ARCH", "vit_tiny_patch16_224",
                 "MODEL.TIMM.KWARGS.img_size", "32", "MODEL.TIMM.KWARGS.patch_size", "8",
                 "MODEL.TIMM.KWARGS.depth", "2")
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 5)
    assert len(model.blocks) == 2


def test_timm_errors_name_the_fix():
    with pytest.raises(ValueError, match="MODEL.TIMM.ARCH is empty"):
        make("timm", 5)
    with pytest.raises(KeyError, match="Unknown timm architecture 'not_a_net'"):
        make("timm", 5, "MODEL.TIMM.ARCH", "not_a_net")


def test_timm_pretrained_tag_offline_says_how_to_use_a_local_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Exception) as e:
        make("timm", 5, "MODEL.TIMM.ARCH", "resnet18", "MODEL.PRETRAINED", "a1_in1k")
    assert "local file" in str(e.value) or "MODEL.PRETRAINED" in str(e.value)


def test_unknown_model_lists_known_names():
    with pytest.raises(KeyError) as e:
        make("lenett", 10)
    message = str(e.value)
    assert "'lenett'" in message and "lenet" in message and "resnet18" in message and "MODEL.NAME" in message
    assert set(["lenet", "alexnet", "resnet18", "resnet34", "timm"]) <= set(MODELS.names())
