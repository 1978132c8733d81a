"""The dataset registry: ``@register_dataset("name")`` above a ``(cfg, split, transform) -> Dataset`` factory."""
from engine.registry import Registry

DATASETS = Registry("dataset", "DATA.DATASET")
register_dataset = DATASETS.register
