"""Any timm architecture through ``MODEL.NAME timm`` and ``MODEL.TIMM.ARCH`` (Swin, MLP-Mixer, TnT, BiT, ...)."""
from torch import nn

from config import ConfigError
from engine.registry import UnknownNameError
from models.registry import register_model


@register_model("timm")
def timm_model(cfg, num_classes: int) -> nn.Module:
    """``timm.create_model(MODEL.TIMM.ARCH, num_classes=..., **MODEL.TIMM.KWARGS)``.

    ``MODEL.PRETRAINED`` set to a timm tag loads that tag's weights (``arch.tag``) with a new head;
    set to a local file it loads the file through timm's ``pretrained_cfg_overlay``.
    """
    import timm

    arch = cfg.MODEL.TIMM.ARCH
    if not arch:
        raise ConfigError("MODEL.NAME is 'timm' but MODEL.TIMM.ARCH is empty. Set it to a timm "
                         "architecture, e.g. --opts MODEL.TIMM.ARCH resnet50 (see timm.list_models()).")
    if arch.split(".")[0] not in timm.list_models():
        raise UnknownNameError(f"Unknown timm architecture {arch!r} (MODEL.TIMM.ARCH). "
                               f"Examples: {', '.join(timm.list_models('*swin*')[:3])}; list them with timm.list_models().")
    kwargs = dict(cfg.MODEL.TIMM.KWARGS)
    kwargs.setdefault("drop_rate", cfg.MODEL.DROP_RATE)
    if cfg.MODEL.DROP_PATH_RATE:
        kwargs.setdefault("drop_path_rate", cfg.MODEL.DROP_PATH_RATE)
    pretrained = cfg.MODEL.PRETRAINED
    if pretrained and "." not in arch and not _is_file(pretrained):
        arch = f"{arch}.{pretrained}"  # a timm tag
    elif pretrained and _is_file(pretrained):
        kwargs["pretrained_cfg_overlay"] = dict(file=pretrained)
    try:
        return timm.create_model(arch, pretrained=bool(pretrained), num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError) as e:  # offline, or the tag's weights are not cached
        if not pretrained or _is_file(pretrained):
            raise
        from models.vit_zoo import PretrainedWeightsError

        raise PretrainedWeightsError(
            f"Could not fetch the pretrained weights {arch!r} (MODEL.PRETRAINED {pretrained!r}): {e}. "
            f"Offline, download the checkpoint elsewhere and set MODEL.PRETRAINED to the local file path."
        ) from e


def _is_file(path: str) -> bool:
    import os

    return os.path.isfile(path)
