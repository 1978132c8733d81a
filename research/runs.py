"""Run folders as main.py writes them: config, per-epoch metrics, final results, and progress.

A run folder holds ``config.yaml`` and ``metrics.jsonl`` (one JSON object per epoch), and, once
training has ended, ``results.json`` (``test_acc`` when the test split is labeled, ``steps``,
``epochs``). :func:`load_runs` finds every such folder under a directory.

How a run fills a cell (the matching rule)
-------------------------------------------
A cell of "ours" is identified by (model, pre-training data, dataset column):

* **model**: from ``MODEL.NAME``, or ``MODEL.TIMM.ARCH`` when ``MODEL.NAME`` is ``timm``, read
  with :func:`model_label`: ``vit_base_patch16_224`` / ``vit_b16`` -> ``ViT-B/16``;
  ``vit_base_r50_s16_384`` / ``hybrid_r50_b16`` -> ``R50x1+ViT-B/16``; ``resnetv2_152x4_bit`` ->
  ``ResNet152x4``; ``vit`` with ``MODEL.VIT`` sizes of Table 1 -> ``ViT-B/16`` etc.
* **pre-training data**: from ``MODEL.PRETRAINED`` (and a tag after ``.`` in the timm arch) with
  :func:`pretrain_label`: text holding ``21k``/``22k`` -> ``I21k``; ``jft`` -> ``JFT``;
  ``in1k``/``imagenet``/``sam`` -> ``ImageNet``; empty -> ``scratch``.
* **dataset column**: ``DATA.DATASET`` through ``paper_tables.DATASET_TO_COLUMN``.

Only finished runs count. A run is finished when it did the training it was configured for: the
``step`` of its last ``metrics.jsonl`` record (or ``steps`` in ``results.json``) reaches
``TRAIN.STEPS`` for a step-based run, its last ``epoch`` reaches ``TRAIN.EPOCHS`` otherwise. A run
that stopped early (a fine-tune killed at step 6 of 500) is listed as unfinished under the tables
and in ``runs.md``, never shown as a result.
"""
from __future__ import annotations

import json
import os
import re
import statistics
from dataclasses import dataclass, field

import yaml

from research import paper_tables as P


def config_get(config: dict, dotted: str, default=None):
    """``config["A"]["B"]`` for ``dotted`` ``"A.B"``; ``default`` where a key is missing."""
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


_SIZE = {"ti": "Ti", "tiny": "Ti", "s": "S", "small": "S", "b": "B", "base": "B",
         "l": "L", "large": "L", "h": "H", "huge": "H"}
_SIZE_RE = "(tiny|small|base|large|huge|ti|s|b|l|h)"


def model_label(config: dict) -> str:
    """The paper's name for the model a run config builds (see the module docstring).

    Args:
        config: the run's config as a plain nested dict (``config.yaml``).
    """
    name = str(config_get(config, "MODEL.NAME", "") or "")
    if name == "timm":
        name = str(config_get(config, "MODEL.TIMM.ARCH", "") or "").split(".")[0]
    low = name.lower()
    if low == "vit":
        vit = config_get(config, "MODEL.VIT", {}) or {}
        for size, dims in P.VIT_SIZES.items():
            if vit.get("EMBED_DIM") == dims["embed_dim"] and vit.get("DEPTH") == dims["depth"]:
                return f"ViT-{size}/{vit.get('PATCH_SIZE')}"
        return f"ViT(D={vit.get('EMBED_DIM')},depth={vit.get('DEPTH')})/{vit.get('PATCH_SIZE')}"
    m = re.search(r"resnet(?:v2_)?(\d+)x(\d+)", low)  # BiT: resnetv2_152x4_bit, resnet50x1
    if m:
        return f"ResNet{m.group(1)}x{m.group(2)}"
    m = re.search(rf"vit_{_SIZE_RE}_r(\d+)_s(\d+)", low)  # timm hybrids: vit_base_r50_s16_384
    if m:
        return f"R{m.group(2)}x1+ViT-{_SIZE[m.group(1)]}/{m.group(3)}"
    m = re.search(rf"r(\d+)[_-]?(?:vit[_-]?)?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # hybrid_r50_b16
    if m:
        return f"R{m.group(1)}x1+ViT-{_SIZE[m.group(2)]}/{m.group(3)}"
    m = re.search(rf"hybrid[_-]?(?:vit[_-]?)?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # hybrid_b16: R50 stem
    if m:
        return f"R50x1+ViT-{_SIZE[m.group(1)]}/{m.group(2)}"
    m = re.search(rf"vit[_-]?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # vit_base_patch16_224, vit_b16
    if m:
        return f"ViT-{_SIZE[m.group(1)]}/{m.group(2)}"
    return name


def pretrain_label(text: str) -> str:
    """``I21k``, ``JFT``, ``ImageNet``, ``scratch`` or ``other`` for a pre-training tag or file.

    Args:
        text: ``MODEL.PRETRAINED`` (a timm tag or a checkpoint path), possibly with the arch's tag.
    """
    low = (text or "").lower()
    if not low.strip():
        return "scratch"
    if "21k" in low or "22k" in low:
        return "I21k"
    if "jft" in low:
        return "JFT"
    if "in1k" in low or "imagenet" in low or "sam" in low or "i1k" in low:
        return "ImageNet"
    return "other"


@dataclass
class Run:
    """One run folder: its config (plain dict), per-epoch metrics and final results.

    Args:
        path: the run folder.
        config: ``config.yaml`` as a nested dict.
        metrics: ``metrics.jsonl`` records in order (accuracies as fractions 0..1).
        results: ``results.json`` (``test_acc``, ``steps``, ``epochs``), empty when the run has none.
    """

    path: str
    config: dict
    metrics: list[dict] = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.path))

    @property
    def model(self) -> str:
        return model_label(self.config)

    @property
    def pretrain(self) -> str:
        text = str(config_get(self.config, "MODEL.PRETRAINED", "") or "")
        arch = str(config_get(self.config, "MODEL.TIMM.ARCH", "") or "")
        if text and "." in arch:
            text = f"{text} {arch.split('.', 1)[1]}"
        return pretrain_label(text)

    @property
    def dataset(self) -> str:
        return str(config_get(self.config, "DATA.DATASET", "") or "")

    @property
    def column(self) -> str | None:
        return P.DATASET_TO_COLUMN.get(self.dataset)

    @property
    def lr(self) -> float | None:
        """``TRAIN.LR`` of the run (None when the config does not say)."""
        value = config_get(self.config, "TRAIN.LR")
        return None if value is None else float(value)

    def progress(self) -> tuple[int | None, int | None, str]:
        """(done, configured total, unit): optimizer steps for step-based runs, epochs otherwise.

        ``done`` is None when the records do not say (no ``step`` key and no ``results.json``);
        ``total`` is None when the config does not say.
        """
        steps = int(config_get(self.config, "TRAIN.STEPS", 0) or 0)
        if steps > 0:
            key, total, unit = "step", steps, "steps"
        else:
            key, total, unit = "epoch", config_get(self.config, "TRAIN.EPOCHS"), "epochs"
        done = [int(m[key]) for m in self.metrics if isinstance(m.get(key), (int, float))]
        if isinstance(self.results.get(unit), (int, float)):
            done.append(int(self.results[unit]))
        return (max(done) if done else None), (None if total is None else int(total)), unit

    @property
    def finished(self) -> bool:
        """True when the run did all the steps (or epochs) its config asks for."""
        done, total, _unit = self.progress()
        return done is not None and total is not None and done >= total

    def progress_text(self) -> str:
        """``6/500 steps`` or ``2/2 epochs``; ``?`` for what the records do not say."""
        done, total, unit = self.progress()
        return f"{'?' if done is None else done}/{'?' if total is None else total} {unit}"

    def accuracy(self, metric: str = "last") -> float | None:
        """Validation accuracy in percent (last or best epoch); None when never validated."""
        accs = [m["val_acc"] for m in self.metrics if m.get("val_acc") is not None]
        if not accs:
            return None
        return 100.0 * (accs[-1] if metric == "last" else max(accs))

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy in percent of the final weights (``results.json``'s ``test_acc``), or None."""
        value = self.results.get("test_acc")
        return 100.0 * float(value) if isinstance(value, (int, float)) else None

    def median(self, key: str) -> float | None:
        values = [float(m[key]) for m in self.metrics if m.get(key) is not None]
        return statistics.median(values) if values else None

    def total(self, key: str) -> float | None:
        values = [float(m[key]) for m in self.metrics if m.get(key) is not None]
        return sum(values) if values else None


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}  # absent or cut off by a crash: the run has no final results
    return data if isinstance(data, dict) else {}


def load_runs(runs_dir: str) -> list[Run]:
    """Every run folder (``config.yaml`` + ``metrics.jsonl``) under ``runs_dir``, sorted by path.

    Args:
        runs_dir: a folder of run folders (any depth), e.g. ``output/``.

    Raises:
        FileNotFoundError: ``runs_dir`` is not a folder.
    """
    if not os.path.isdir(runs_dir):
        raise FileNotFoundError(
            f"Runs folder {runs_dir!r} does not exist. Pass the folder that holds your run folders "
            f"(main.py's OUTPUT, by default 'output/')."
        )
    runs = []
    for root, _dirs, files in sorted(os.walk(runs_dir)):
        if "config.yaml" not in files or "metrics.jsonl" not in files:
            continue
        with open(os.path.join(root, "config.yaml")) as f:
            config = yaml.safe_load(f) or {}
        metrics = []
        with open(os.path.join(root, "metrics.jsonl")) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        metrics.append(json.loads(line))
                    except json.JSONDecodeError:
                        break  # a line cut off by a crash: keep the epochs before it
        runs.append(Run(root, config, metrics, _read_json(os.path.join(root, "results.json"))))
    return runs
