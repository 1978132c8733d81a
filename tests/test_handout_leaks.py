"""The released handout gives no graded answer away (issue 14, items 4 to 6).

- Numbers: no shipped file holds a number the worksheet grader would accept for a distinctive
  numeric key (57,823,240 in every spelling it reads: 57823240, 57.8M, 57.82M, 5.78e7, ...).
- Computations: no shipped function or notebook cell outside the student regions performs a graded
  forward, however it is written (``tests/leak_scan.py``: operation signatures), nor copies one with
  other names or layout (normalised token windows).

The detectors are tested too: each signature matches the staff solution it describes, and catches
the leaks this handout used to ship and the same computations written differently.
"""
from __future__ import annotations

import ast
import atexit
import functools
import json
import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder.markers import REGIONS
from autograder.release import editable_files, release
from tests import leak_scan as L

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = REGIONS["solution"]

# Found in the handout on purpose, with the reason.
ALLOWED_NUMBERS = {
    ("data/datasets.py", "q10.6"): "102 is Oxford Flowers-102's class count, not the 102.4 epochs of q10.6",
    ("research/paper_tables.py", "q10.8"): "q10.8 asks what the paper reports; the claims tables (Part B) print the "
                                           "paper's figures by design",
}
# Classes whose forwards are graded, by item, and where the staff solution lives.
GRADED = {
    "vit/PatchEmbed": ("models/vit.py", "PatchEmbed"),
    "vit/AddPositionEmbs": ("models/vit.py", "AddPositionEmbs"),
    "vit/MlpBlock": ("models/vit.py", "MlpBlock"),
    "vit/MultiHeadSelfAttention": ("models/vit.py", "MultiHeadSelfAttention"),
    "vit/Encoder1DBlock": ("models/vit.py", "Encoder1DBlock"),
    "vit/Encoder": ("models/vit.py", "Encoder"),
    "vit/VisionTransformer": ("models/vit.py", "VisionTransformer"),
    "resnet/BasicBlock": ("models/resnet.py", "BasicBlock"),
    "alexnet/AlexNet": ("models/alexnet.py", "AlexNet"),
}


@functools.lru_cache(maxsize=1)
def handout() -> Path:
    """One untouched release per test process."""
    root = Path(tempfile.mkdtemp(prefix="test-leaks-"))
    atexit.register(shutil.rmtree, root, True)
    return release(root / "handout", REPO).out


@functools.lru_cache(maxsize=1)
def numeric_keys() -> dict[str, tuple[float, dict]]:
    from autograder.worksheet import load_key

    key, _ = load_key()
    return {q.qid: (float(q.expected), q.spec) for q in key.values()
            if q.kind == "number" and q.expected is not None}


def _find_numbers():
    from autograder.worksheet import find_numbers

    return find_numbers


# -----------------------------------------------------------------------------------------------
# Numbers
# -----------------------------------------------------------------------------------------------
def test_no_worksheet_number_ships_in_any_spelling_the_grader_reads():
    leaks = [(rel, line, qid, text) for rel, line, qid, text in L.number_leaks(handout(), numeric_keys(), _find_numbers())
             if (rel, qid) not in ALLOWED_NUMBERS]
    assert leaks == [], "worksheet answers in the handout:\n" + "\n".join(
        f"{rel}:{line}: {text!r} answers {qid}" for rel, line, qid, text in leaks)


def test_the_alexnet_count_is_nowhere_in_the_handout():
    """The grep of the issue: 57,823,240 in every spelling the grader accepts, over every file."""
    spellings = ["57823240", "57,823,240", "57 823 240", "57.8M", "57.82M", "57.823M", "57.8 M",
                 "57.8 million", "57.82 million", "5.78e7", "5.782e7", "5.78e+07", "5.78 x 10^7", "0.0578 billion",
                 "57823.24K", "57823K"]
    find_numbers = _find_numbers()
    expected, spec = numeric_keys()["q3.4"]
    for s in spellings:  # the grader reads each one as the answer ...
        assert any(L.close(n.value, expected, spec) for n in find_numbers(s)), s
    hits = []
    for rel, text in L.text_files(handout()).items():  # ... and none is in the handout
        hits += [f"{rel}: {s!r}" for s in spellings if re.search(rf"(?<![\d.]){re.escape(s)}(?![\d])", text)]
    assert hits == []


@pytest.mark.parametrize("spelling", ["57823240", "57,823,240", "57.8M", "57.82M", "5.78e7", "~57.82 million",
                                      "5.78 x 10^7", "231.3 MB", "220.6 MiB", "86.57M", "17.56 GFLOPs"])
def test_the_number_scan_catches_each_spelling(tmp_path, spelling):
    (tmp_path / "notes.md").write_text(f"A comment: about {spelling} here.\n")
    assert L.number_leaks(tmp_path, numeric_keys(), _find_numbers()), spelling


def test_products_are_sizes_but_scientific_notation_is_a_number():
    assert L.is_product("96 x 96") and L.is_product("256*6*6") and L.is_product("3×224")
    assert not L.is_product("5.78 x 10^7") and not L.is_product("5.78*10**7") and not L.is_product("57,823,240")


def test_the_number_scan_leaves_everyday_numbers_alone(tmp_path):
    (tmp_path / "c.yaml").write_text("BATCH_SIZE: 1024\nIMG_SIZE: 224\nEPOCHS: 55\nLR: 0.001\nVAL: 45000\n# STL-10: 96x96 images\n")
    assert L.number_leaks(tmp_path, numeric_keys(), _find_numbers()) == []


# -----------------------------------------------------------------------------------------------
# Computations
# -----------------------------------------------------------------------------------------------
def _staff_class(rel: str, name: str) -> ast.ClassDef:
    tree = ast.parse((REPO / rel).read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


@pytest.mark.parametrize("item", sorted(GRADED))
def test_each_graded_forward_has_a_signature_that_its_staff_solution_matches(item):
    sigs = [s for s in L.SIGNATURES if s.item == item]
    assert sigs, f"no signature for {item}"
    ops = L.operations(_staff_class(*GRADED[item]))
    assert any(L.matches(ops, s) for s in sigs), f"{item}: staff solution ops {ops} match none of {sigs}"


def test_no_graded_computation_ships_outside_the_student_regions():
    leaks = L.computation_leaks(handout())
    assert leaks == [], "graded computations in the handout:\n" + "\n".join(
        f"{where}: {item} ({' '.join(ops)})" for where, item, ops in leaks)


# What this handout used to ship, and the same computations written other ways.
LEAKY = {
    "old fused attention": """
        def forward(self, x):
            B, T, D = x.shape
            qkv = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
            return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, T, D)))
    """,
    "old notebook hook": """
        def hook(module, inputs, output):
            x = inputs[0]
            B, N, D = x.shape
            qkv = module.qkv(x).reshape(B, N, 3, module.num_heads, module.head_dim)
            q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)
            attentions.append(((q @ k.transpose(-2, -1)) * module.head_dim ** -0.5).softmax(-1))
    """,
    "einsum and view": """
        def go(m, tokens):
            b, n, _ = tokens.shape
            parts = m.qkv(tokens).view(b, n, 3, m.num_heads, -1)
            scores = torch.einsum("bnhd,bmhd->bhnm", parts[:, :, 0], parts[:, :, 1]) / math.sqrt(parts.shape[-1])
            weights = torch.nn.functional.softmax(scores, dim=-1)
            return torch.einsum("bhnm,bmhd->bnhd", weights, parts[:, :, 2]).flatten(2)
    """,
    "einops attention": """
        def go(m, t):
            q, k, v = rearrange(m.qkv(t), "b n (three h d) -> three b h n d", three=3, h=m.num_heads)
            return rearrange(torch.matmul(q, k.mT).mul(m.scale).softmax(-1) @ v, "b h n d -> b n (h d)")
    """,
    "old hybrid patch tokens": """
        def forward(self, x):
            x = self.backbone(x)
            x = self.proj(x)
            return x.flatten(2).transpose(1, 2)
    """,
    "patch tokens by permute and reshape": """
        def tokens(self, img):
            grid = self.proj(img)
            return grid.permute(0, 2, 3, 1).reshape(img.shape[0], -1, grid.shape[1])
    """,
    "pre-LN block": """
        def f(blk, h):
            h = h + blk.drop(blk.attn(blk.norm1(h)))
            return h + blk.mlp(blk.norm2(h))
    """,
    "position table": """
        def f(m, x):
            out = x.clone()
            out += m.pos_embedding
            return out
    """,
    "basic block": """
        def f(b, x):
            y = F.relu(b.bn1(b.conv1(x)))
            y = b.bn2(b.conv2(y))
            return F.relu(y + b.shortcut(x))
    """,
}


@pytest.mark.parametrize("name", sorted(LEAKY))
def test_the_computation_scan_catches_rewritten_leaks(tmp_path, name):
    (tmp_path / "helper.py").write_text("import math\nimport torch\n" + textwrap.dedent(LEAKY[name]))
    assert L.computation_leaks(tmp_path), f"{name} not caught"


def test_the_computation_scan_catches_a_leak_in_a_notebook_cell(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "hooks"}},
                     "source": textwrap.dedent(LEAKY["old notebook hook"]), "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    assert [w for w, _, _ in L.computation_leaks(tmp_path)] == ["a.ipynb#hooks:2 hook"]


def test_the_computation_scan_accepts_the_handouts_fused_path(tmp_path):
    """One library call on the module's own parameters spells out nothing (and students may not use it)."""
    fused = (REPO / "models" / "vit_zoo.py").read_text()
    (tmp_path / "vit_zoo.py").write_text(fused)
    assert L.computation_leaks(tmp_path) == []


def _solution_regions(text: str) -> list[str]:
    out, lines, inside = [], [], False
    for raw in text.splitlines():
        if BEGIN in raw:
            inside, lines = True, []
        elif END in raw:
            inside = False
            out.append(textwrap.dedent("\n".join(lines)))
        elif inside:
            lines.append(raw)
    return out


def _staff_solutions() -> dict[str, list[str]]:
    out = {}
    for rel in editable_files(REPO):
        if rel.endswith(".py"):
            out[rel] = _solution_regions((REPO / rel).read_text())
        elif rel.endswith(".ipynb"):
            cells = json.loads((REPO / rel).read_text())["cells"]
            out[rel] = [r for c in cells if c["cell_type"] == "code" for r in _solution_regions("".join(c["source"]))]
    return out


WINDOW = 20  # tokens: longer than constructor idioms (``nn.Sequential(nn.Conv2d(3, 64, kernel_size=3, ...``), shorter than two lines of a forward


def test_no_solution_is_copied_with_other_names_or_layout():
    shipped = {where: L.tokens(src) for where, src in L.python_sources(handout()).items()}
    leaks = []
    for rel, regions in _staff_solutions().items():
        for region in regions:
            toks = L.tokens(region)
            for where, other in shipped.items():
                leaks += [(rel, where, w) for w in L.shared_windows(toks, other, WINDOW)[:1]]
    assert leaks == [], "solution token windows found in the handout:\n" + "\n".join(
        f"{where}: {w!r} (from {rel})" for rel, where, w in leaks)


def test_the_token_scan_catches_a_renamed_copy():
    region = _staff_solutions()["models/vit.py"][3]  # MultiHeadSelfAttention.forward
    renamed = re.sub(r"\battn\b", "weights", re.sub(r"\bqkv\b(?!\()", "packed", region))
    assert renamed != region
    assert L.shared_windows(L.tokens(region), L.tokens("def other(self, x):\n" + textwrap.indent(renamed, "    ")),
                            WINDOW)
