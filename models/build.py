"""``build_model(cfg, num_classes)``: the model named by ``MODEL.NAME``, from the registry.

Each model file registers its entry points with ``@register_model(name)``; importing the
modules below fills the registry.
"""
import importlib

from torch import nn

from models.registry import MODELS

_MODEL_MODULES = ("models.lenet", "models.alexnet", "models.resnet", "models.timm_models",
                  "models.vit_zoo", "models.hybrid", "models.perceiver")
for _name in _MODEL_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as e:  # a module not present in this copy of the repository
        if e.name != _name:
            raise


def build_model(cfg, num_classes: int) -> nn.Module:
    """The model named by ``cfg.MODEL.NAME`` with ``num_classes`` outputs.

    Args:
        cfg: the run's config.
        num_classes: classifier outputs (``MODEL.NUM_CLASSES`` when set, else the dataset's).
    """
    return MODELS.get(cfg.MODEL.NAME)(cfg, num_classes)
