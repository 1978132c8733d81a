"""Every default of the project, with a one-line comment each, and config loading.

A run's config is these defaults, then the YAML file (after the files named in its ``BASE``
list), then ``--opts KEY VALUE`` pairs. Unknown keys and wrongly typed values fail with a
message naming the key and the nearest valid ones. The config is frozen during the run: values
computed at run time (number of classes, device) are returned by the builders, never written back.
"""
from __future__ import annotations

import argparse
import difflib
import os
from typing import Sequence

import yaml
from yacs.config import CfgNode as CN

_C = CN()
_C.BASE = [""]  # YAML files this one inherits from (paths relative to this file), merged first

# -----------------------------------------------------------------------------------------------
# Data
# -----------------------------------------------------------------------------------------------
_C.DATA = CN()
_C.DATA.DATASET = "digits"  # registry name: cifar10, cifar100, medium_imagenet, oxford_pets, flowers102, digits, ...
_C.DATA.ROOT = "datasets"  # folder holding the dataset files (or the HDF5 file for medium_imagenet)
_C.DATA.DOWNLOAD = False  # let torchvision download the dataset into DATA.ROOT when it is missing
_C.DATA.IMG_SIZE = 32  # side of the square images fed to the model
_C.DATA.BATCH_SIZE = 128  # images per optimizer micro-batch on each process
_C.DATA.EVAL_BATCH_SIZE = 0  # images per batch for val/test; 0 means 2 x DATA.BATCH_SIZE
_C.DATA.NUM_WORKERS = 2  # DataLoader worker processes (0 loads in the main process)
_C.DATA.PIN_MEMORY = True  # pin host memory for faster copies to an accelerator
_C.DATA.PERSISTENT_WORKERS = True  # keep workers alive between epochs (only when NUM_WORKERS > 0)
_C.DATA.VAL_SIZE = 0.1  # holdout from train when the source has no val split: fraction (<1) or count
_C.DATA.SPLIT_SEED = 0  # seed of that holdout, fixed so every run sees the same split
_C.DATA.MEAN = []  # per-channel normalization mean; empty uses the dataset's own
_C.DATA.STD = []  # per-channel normalization std; empty uses the dataset's own
_C.DATA.CLASS_NAMES = ""  # optional text file with one class name per line (medium_imagenet)
_C.DATA.INTERPOLATION = "bilinear"  # resize interpolation: bilinear, bicubic or nearest

# -----------------------------------------------------------------------------------------------
# Augmentation (train split only)
# -----------------------------------------------------------------------------------------------
_C.AUG = CN()
_C.AUG.RANDOM_CROP_PADDING = 0  # random crop of IMG_SIZE after zero padding by this many pixels; 0 off
_C.AUG.RANDOM_RESIZED_CROP = False  # Inception-style random resized crop instead of resize + crop
_C.AUG.HFLIP = 0.0  # probability of a horizontal flip
_C.AUG.COLOR_JITTER = 0.0  # brightness/contrast/saturation jitter strength; 0 off
_C.AUG.RAND_AUGMENT = ""  # timm RandAugment policy string, e.g. "rand-m9-mstd0.5-inc1"; empty off
_C.AUG.RANDOM_ERASE = 0.0  # timm random-erasing probability; 0 off
_C.AUG.MIXUP = 0.0  # mixup alpha; 0 off
_C.AUG.CUTMIX = 0.0  # cutmix alpha; 0 off
_C.AUG.MIXUP_PROB = 1.0  # probability of applying mixup or cutmix to a batch
_C.AUG.MIXUP_SWITCH_PROB = 0.5  # probability of cutmix instead of mixup when both are on
_C.AUG.MIXUP_MODE = "batch"  # timm mixup mode: batch, pair or elem

# -----------------------------------------------------------------------------------------------
# Model
# -----------------------------------------------------------------------------------------------
_C.MODEL = CN()
_C.MODEL.NAME = "lenet"  # registry name: lenet, alexnet, resnet18, resnet34, vit*, hybrid*, timm
_C.MODEL.NUM_CLASSES = 0  # classifier outputs; 0 takes the dataset's number of classes
_C.MODEL.DROP_RATE = 0.0  # dropout rate (AlexNet's classifier, ViT's MLP and embeddings)
_C.MODEL.DROP_PATH_RATE = 0.0  # stochastic depth rate, for models that support it
_C.MODEL.PRETRAINED = ""  # timm pretrained tag (e.g. "augreg_in21k") or a local checkpoint file; empty for none
_C.MODEL.CHANNELS_LAST = False  # use the channels-last memory format (faster convolutions on GPU)
_C.MODEL.COMPILE = False  # wrap the model in torch.compile

_C.MODEL.TIMM = CN()
_C.MODEL.TIMM.ARCH = ""  # timm architecture name for MODEL.NAME=timm, e.g. "swin_tiny_patch4_window7_224"
_C.MODEL.TIMM.KWARGS = CN(new_allowed=True)  # extra keyword arguments for timm.create_model

_C.MODEL.VIT = CN()
_C.MODEL.VIT.PATCH_SIZE = 4  # side of each square patch, for MODEL.NAME=vit
_C.MODEL.VIT.EMBED_DIM = 192  # token width D
_C.MODEL.VIT.DEPTH = 6  # number of encoder blocks
_C.MODEL.VIT.NUM_HEADS = 3  # attention heads per block
_C.MODEL.VIT.MLP_DIM = 768  # hidden width of each block's MLP
_C.MODEL.VIT.ATTN_DROP_RATE = 0.0  # dropout on the attention weights
_C.MODEL.VIT.QKV_BIAS = True  # bias in the query/key/value projection
_C.MODEL.VIT.FUSED_ATTN = False  # route attention through F.scaled_dot_product_attention (training speed only)

_C.MODEL.HYBRID = CN()
_C.MODEL.HYBRID.LAYERS = [3, 4, 9]  # BiT ResNet blocks per stage for MODEL.NAME=hybrid (3 stages: stride 16, 4: stride 32); encoder dims from MODEL.VIT

# -----------------------------------------------------------------------------------------------
# Training
# -----------------------------------------------------------------------------------------------
_C.TRAIN = CN()
_C.TRAIN.EPOCHS = 10  # passes over the train split (ignored when TRAIN.STEPS > 0)
_C.TRAIN.STEPS = 0  # optimizer steps in total; > 0 switches to a step-based schedule
_C.TRAIN.WARMUP_EPOCHS = 0.0  # linear warmup length in epochs (converted to optimizer steps)
_C.TRAIN.WARMUP_STEPS = 0  # linear warmup length in optimizer steps; > 0 takes precedence over WARMUP_EPOCHS
_C.TRAIN.LR = 3e-4  # peak learning rate, reached at the warmup's last step
_C.TRAIN.MIN_LR = 0.0  # learning rate at the end of the cosine decay
_C.TRAIN.WARMUP_LR = 0.0  # learning rate at the start of the warmup
_C.TRAIN.LR_SCHEDULER = "cosine"  # cosine, linear or constant (after warmup)
_C.TRAIN.WEIGHT_DECAY = 0.05  # decoupled (AdamW) or L2 (SGD, Adam) weight decay; 0 off
_C.TRAIN.NO_DECAY_BIAS_NORM = True  # exempt biases, norms, embeddings and tokens from weight decay
_C.TRAIN.OPTIMIZER = "adamw"  # sgd, adam or adamw
_C.TRAIN.MOMENTUM = 0.9  # SGD momentum
_C.TRAIN.BETAS = [0.9, 0.999]  # Adam/AdamW betas
_C.TRAIN.EPS = 1e-8  # Adam/AdamW epsilon
_C.TRAIN.CLIP_GRAD = 0.0  # clip the global gradient norm to this value; 0 off
_C.TRAIN.ACCUMULATION_STEPS = 1  # micro-batches per optimizer step (effective batch = BATCH_SIZE x this x processes)
_C.TRAIN.LABEL_SMOOTHING = 0.0  # label smoothing of the cross-entropy loss
_C.TRAIN.AMP = "none"  # mixed precision: none, bf16 or fp16 (fp16 uses a gradient scaler)
_C.TRAIN.VAL_FREQ = 1  # validate every this many epochs (and always after the last)

# -----------------------------------------------------------------------------------------------
# Evaluation
# -----------------------------------------------------------------------------------------------
_C.EVAL = CN()
_C.EVAL.SUBMISSION = True  # predict the test split after training and write submission.csv
_C.EVAL.SAVE_LOGITS = True  # also keep the test logits (test_logits.npy) for later ensembling or export
_C.EVAL.THROUGHPUT_MAX_BATCH = 1024  # --throughput doubles the batch size up to this (or out of memory)

# -----------------------------------------------------------------------------------------------
# Logging
# -----------------------------------------------------------------------------------------------
_C.WANDB = CN()
_C.WANDB.ENABLED = False  # log the run to Weights & Biases (offline mode when no API key is set)
_C.WANDB.PROJECT = "vision-zoo"  # W&B project name
_C.WANDB.ENTITY = ""  # W&B team or user; empty for the default
_C.WANDB.MODE = ""  # "online", "offline" or "disabled"; empty picks online with a key, else offline

# -----------------------------------------------------------------------------------------------
# Misc
# -----------------------------------------------------------------------------------------------
_C.OUTPUT = "output"  # parent folder of run folders
_C.RUN_NAME = ""  # run folder name under OUTPUT; empty derives "<model>_<dataset>" from the config
_C.SEED = 0  # seed of every random number generator in the run
_C.DEVICE = "auto"  # auto (cuda, then mps, then cpu), cuda, cuda:N, mps or cpu
_C.SAVE_FREQ = 0  # also keep checkpoint_epochNNN.pth every this many epochs; 0 keeps only checkpoint_last/best
_C.PRINT_FREQ = 50  # log a line every this many training steps
_C.PROGRESS = True  # show tqdm progress bars
_C.DETERMINISTIC = False  # ask PyTorch for deterministic kernels (slower on GPU)


def get_defaults() -> CN:
    """A fresh, mutable copy of the defaults."""
    return _C.clone()


class ConfigError(ValueError):
    """A bad key, value or file in a config; the message names it and the fix."""


def _flat_keys(node: CN, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        keys.append(full)
        if isinstance(v, CN):
            keys.extend(_flat_keys(v, f"{full}."))
    return keys


def _unknown_key_error(key: str, defaults: CN, source: str) -> ConfigError:
    valid = _flat_keys(defaults)
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
    hint = f" Nearest valid keys: {', '.join(close)}." if close else ""
    return ConfigError(
        f"Unknown config key {key!r} in {source}.{hint} Every key must exist in config.py "
        f"(see its comments); fix the spelling or add the key with a default there."
    )


def _check_and_merge(cfg: CN, other: dict, source: str, prefix: str = "") -> None:
    """Merge a plain dict into ``cfg``, naming the key on an unknown key or a type mismatch."""
    for k, v in other.items():
        full = f"{prefix}{k}"
        if k not in cfg:
            if cfg.is_new_allowed():
                cfg[k] = CN(v) if isinstance(v, dict) else v
                continue
            raise _unknown_key_error(full, _C, source)
        old = cfg[k]
        if isinstance(old, CN):
            if not isinstance(v, dict):
                raise ConfigError(
                    f"Config key {full!r} in {source} is a section; give it a mapping of keys, "
                    f"not {v!r}."
                )
            _check_and_merge(old, v, source, f"{full}.")
            continue
        cfg[k] = _coerce(full, old, v, source)


def _coerce(key: str, old, value, source: str):
    """Type-check ``value`` against the default ``old``; ints widen to floats, tuples to lists."""
    if isinstance(old, bool) or isinstance(value, bool):
        if isinstance(old, bool) and isinstance(value, bool):
            return value
    elif isinstance(old, float) and isinstance(value, (int, float)):
        return float(value)
    elif isinstance(old, float) and isinstance(value, str):
        try:  # YAML reads "1e-3" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    elif isinstance(old, (list, tuple)) and isinstance(value, (list, tuple)):
        return list(value)
    elif type(old) is type(value):
        return value
    raise ConfigError(
        f"Config key {key!r} in {source} expects {type(old).__name__} (default {old!r}) "
        f"but got {type(value).__name__} {value!r}. Write a value of the default's type."
    )


def _read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(
            f"Config file {path!r} does not exist. Pass --cfg with a file under configs/, "
            f"e.g. configs/lenet_digits.yaml."
        )
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"Config file {path!r} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path!r} must hold a mapping of keys, not {type(data).__name__}.")
    return data


def _merge_file(cfg: CN, path: str, seen: tuple[str, ...] = ()) -> None:
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f"Config file {path!r} inherits from itself through BASE: {' -> '.join(seen)}.")
    data = _read_yaml(path)
    bases = data.pop("BASE", None) or []
    if isinstance(bases, str):
        bases = [bases]
    for base in bases:
        if not base:
            continue
        base_path = os.path.join(os.path.dirname(path), base)
        if not os.path.isfile(base_path):
            raise ConfigError(
                f"Config file {base_path!r} does not exist; {path!r} names it in BASE as {base!r} (paths in "
                f"BASE are relative to the file that names them). Fix that entry or create the file.")
        _merge_file(cfg, base_path, seen + (path,))
    _check_and_merge(cfg, data, path)


def _parse_opt_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def merge_opts(cfg: CN, opts: Sequence[str]) -> None:
    """Apply ``KEY VALUE`` pairs from the command line (values parsed as YAML)."""
    if len(opts) % 2:
        raise ConfigError(f"--opts takes KEY VALUE pairs; got an odd number of items: {list(opts)}.")
    for key, text in zip(opts[0::2], opts[1::2]):
        node, parts = cfg, key.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], CN):
                raise _unknown_key_error(key, _C, "--opts")
            node = node[part]
        value = _parse_opt_value(text)
        if parts[-1] not in node and not node.is_new_allowed():
            raise _unknown_key_error(key, _C, "--opts")
        if parts[-1] in node:
            if isinstance(node[parts[-1]], CN):
                raise ConfigError(f"--opts key {key!r} is a section; name one of its keys instead.")
            if isinstance(node[parts[-1]], str) and not isinstance(value, str):
                value = text  # a string key keeps the literal text ("1e-3" stays a string there)
            value = _coerce(key, node[parts[-1]], value, "--opts")
        node[parts[-1]] = value


def load_config(cfg_file: str | None = None, opts: Sequence[str] = ()) -> CN:
    """Defaults, then ``cfg_file`` (with its BASE chain), then ``opts``; values checked
    (:func:`check_values`), returned frozen. Every mistake raises ConfigError naming the value."""
    cfg = get_defaults()
    if cfg_file:
        _merge_file(cfg, cfg_file)
    merge_opts(cfg, list(opts))
    check_values(cfg)
    cfg.freeze()
    return cfg


# -----------------------------------------------------------------------------------------------
# Value rules: checked where the config is read, so a bad value stops the run with one message
# (value, rule, fix) instead of a traceback deep inside torch.
# -----------------------------------------------------------------------------------------------
def _rule(ok: bool, key: str, value, rule: str, fix: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {value!r} {rule}; {fix}.")


def check_values(cfg: CN) -> None:
    """Raise ConfigError for a value of the right type that no run can use (batch size 0, ...)."""
    d, t, a, e = cfg.DATA, cfg.TRAIN, cfg.AUG, cfg.EVAL
    _rule(d.BATCH_SIZE >= 1, "DATA.BATCH_SIZE", d.BATCH_SIZE, "must be >= 1 (images per micro-batch)",
          "e.g. --opts DATA.BATCH_SIZE 32")
    _rule(d.EVAL_BATCH_SIZE >= 0, "DATA.EVAL_BATCH_SIZE", d.EVAL_BATCH_SIZE, "must be >= 0",
          "use 0 for 2 x DATA.BATCH_SIZE")
    _rule(d.IMG_SIZE >= 1, "DATA.IMG_SIZE", d.IMG_SIZE, "must be >= 1 (image side in pixels)", "e.g. --opts DATA.IMG_SIZE 32")
    _rule(d.NUM_WORKERS >= 0, "DATA.NUM_WORKERS", d.NUM_WORKERS, "must be >= 0", "use 0 to load in the main process")
    _rule(d.VAL_SIZE >= 0, "DATA.VAL_SIZE", d.VAL_SIZE, "must be >= 0", "give a fraction below 1 or a count")
    _rule(t.STEPS >= 0, "TRAIN.STEPS", t.STEPS, "must be >= 0", "use 0 for an epoch-based run")
    _rule(t.STEPS > 0 or t.EPOCHS >= 1, "TRAIN.EPOCHS", t.EPOCHS, "must be >= 1 in an epoch-based run (TRAIN.STEPS 0)",
          "e.g. --opts TRAIN.EPOCHS 10")
    _rule(t.ACCUMULATION_STEPS >= 1, "TRAIN.ACCUMULATION_STEPS", t.ACCUMULATION_STEPS,
          "must be >= 1 (micro-batches per optimizer step)", "use 1 for no accumulation")
    _rule(t.LR > 0, "TRAIN.LR", t.LR, "must be > 0", "e.g. --opts TRAIN.LR 3e-4")
    for key in ("MIN_LR", "WARMUP_LR", "WARMUP_EPOCHS", "WARMUP_STEPS", "WEIGHT_DECAY", "CLIP_GRAD"):
        _rule(t[key] >= 0, f"TRAIN.{key}", t[key], "must be >= 0", "use 0 to turn it off")
    _rule(0 <= t.LABEL_SMOOTHING < 1, "TRAIN.LABEL_SMOOTHING", t.LABEL_SMOOTHING, "must lie in [0, 1)",
          "e.g. --opts TRAIN.LABEL_SMOOTHING 0.1")
    _rule(t.AMP in ("none", "bf16", "fp16"), "TRAIN.AMP", t.AMP, "must be none, bf16 or fp16", "pick one of those")
    _rule(t.VAL_FREQ >= 1, "TRAIN.VAL_FREQ", t.VAL_FREQ, "must be >= 1 (validate every N epochs)", "use 1 for every epoch")
    for key in ("HFLIP", "RANDOM_ERASE", "MIXUP_PROB", "MIXUP_SWITCH_PROB"):
        _rule(0 <= a[key] <= 1, f"AUG.{key}", a[key], "is a probability and must lie in [0, 1]", "e.g. 0.5")
    for key in ("MIXUP", "CUTMIX", "COLOR_JITTER", "RANDOM_CROP_PADDING"):
        _rule(a[key] >= 0, f"AUG.{key}", a[key], "must be >= 0", "use 0 to turn it off")
    for key in ("DROP_RATE", "DROP_PATH_RATE"):
        _rule(0 <= cfg.MODEL[key] < 1, f"MODEL.{key}", cfg.MODEL[key], "must lie in [0, 1)", "use 0 to turn it off")
    _rule(e.THROUGHPUT_MAX_BATCH >= 1, "EVAL.THROUGHPUT_MAX_BATCH", e.THROUGHPUT_MAX_BATCH, "must be >= 1",
          "e.g. --opts EVAL.THROUGHPUT_MAX_BATCH 256")
    for key in ("SAVE_FREQ", "PRINT_FREQ"):
        _rule(cfg[key] >= 0, key, cfg[key], "must be >= 0", "use 0 to turn it off")


# Smallest side each CNN's fixed layers accept (AlexNet: stride-4 stem and three 3x3/2 max pools
# leave a 1x1 map at 63 px, nothing at 62; LeNet: its classifier takes exactly the 6x6 map that
# 32 to 35 px leave).
IMG_SIZE_RANGES = {"alexnet": (63, None), "lenet": (32, 35)}


def check_model_input(cfg: CN) -> None:
    """Raise ConfigError when ``DATA.IMG_SIZE`` does not fit ``MODEL.NAME`` (ViT patch side,
    AlexNet's and LeNet's sizes). Called by ``main.py`` once the config is read; model building
    alone (parameter counts) does not need it."""
    name, size = cfg.MODEL.NAME, cfg.DATA.IMG_SIZE
    if name in ("vit", "hybrid"):  # the models whose encoder dims come from MODEL.VIT.*
        v = cfg.MODEL.VIT
        _rule(v.NUM_HEADS >= 1, "MODEL.VIT.NUM_HEADS", v.NUM_HEADS, "must be >= 1", "e.g. --opts MODEL.VIT.NUM_HEADS 3")
        _rule(v.EMBED_DIM % v.NUM_HEADS == 0, "MODEL.VIT.EMBED_DIM", v.EMBED_DIM,
              f"must be divisible by MODEL.VIT.NUM_HEADS {v.NUM_HEADS} (each head gets EMBED_DIM / NUM_HEADS channels)",
              f"e.g. --opts MODEL.VIT.EMBED_DIM {max(v.NUM_HEADS, v.EMBED_DIM // v.NUM_HEADS * v.NUM_HEADS)}")
    patch = None
    if name == "vit":
        patch, source = cfg.MODEL.VIT.PATCH_SIZE, "MODEL.VIT.PATCH_SIZE"
        _rule(patch >= 1, source, patch, "must be >= 1", "e.g. --opts MODEL.VIT.PATCH_SIZE 4")
    elif name.startswith("vit_"):
        from models.vit_zoo import VIT_SIZES

        if name in VIT_SIZES:
            patch, source = VIT_SIZES[name].patch_size, f"the patch side of {name}"
    if patch is not None and size % patch:
        lower, upper = size - size % patch, size - size % patch + patch
        raise ConfigError(
            f"DATA.IMG_SIZE {size} must be divisible by the ViT patch side {patch} ({source}) so the image splits "
            f"into whole patches; use --opts DATA.IMG_SIZE {upper if lower < patch else lower} or a patch side "
            f"that divides {size}.")
    low, high = IMG_SIZE_RANGES.get(name, (None, None))
    if low is not None and (size < low or (high is not None and size > high)):
        span = f"at least {low}" if high is None else f"{low} to {high}"
        raise ConfigError(f"DATA.IMG_SIZE {size} does not fit MODEL.NAME {name}: it needs {span} px; "
                          f"use --opts DATA.IMG_SIZE {low}.")


# -----------------------------------------------------------------------------------------------
# Comparing configs (a resumed run against its checkpoint)
# -----------------------------------------------------------------------------------------------
def flat_values(cfg: CN, prefix: str = "") -> dict:
    """``{"TRAIN.LR": 0.01, ...}`` for every leaf key of ``cfg``."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, CN):
            out.update(flat_values(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(saved_yaml: str, cfg: CN) -> dict[str, tuple]:
    """``{key: (saved value, value in cfg)}`` for every key whose value differs.

    ``saved_yaml`` is ``cfg.dump()`` of another run (a checkpoint's ``config``); a key it lacks (a
    checkpoint older than the key) counts as its default.
    """
    saved = flat_values(CN.load_cfg(saved_yaml))
    defaults = flat_values(_C)
    now = flat_values(cfg)
    missing = object()
    diff = {}
    for key in sorted(set(saved) | set(now)):
        old = saved.get(key, defaults.get(key, missing))
        new = now.get(key, missing)
        if key == "BASE" or _same(old, new):
            continue
        diff[key] = (None if old is missing else old, None if new is missing else new)
    return diff


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The ``--cfg`` and ``--opts`` arguments shared by every entry point."""
    parser.add_argument("--cfg", required=True, metavar="FILE", help="YAML config, e.g. configs/lenet_digits.yaml")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE",
                        help="override config keys, e.g. --opts TRAIN.LR 1e-3 DATA.BATCH_SIZE 64")
