"""The model registry: ``@register_model("name")`` above a ``(cfg, num_classes) -> nn.Module`` factory."""
from engine.registry import Registry

MODELS = Registry("model", "MODEL.NAME")
register_model = MODELS.register
