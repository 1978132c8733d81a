"""Trusted task for the Sandbox-level hostile catalogue: import one case's ``models/vit.py`` and run its model.

torch is imported here, at the child's start (outside any item's time limit).
"""
from __future__ import annotations

import importlib
import os
import sys

import torch


def run_case(p: dict) -> dict:
    """Import ``<case>/models/vit.py`` as ``models.vit`` and return the logits of its VisionTransformer."""
    case_dir = os.path.join(os.getcwd(), p["case"])
    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[name]
    sys.path.insert(0, case_dir)
    try:
        vit = importlib.import_module("models.vit")
    finally:
        sys.path.remove(case_dir)
    torch.manual_seed(0)
    model = vit.VisionTransformer(**p["kwargs"]).double().eval()
    with torch.no_grad():
        return {"logits": model(p["x"])}


TASKS = {"run_case": run_case}
