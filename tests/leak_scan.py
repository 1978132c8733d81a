"""Finds graded answers in a released handout: worksheet numbers in any spelling the worksheet
grader reads, and graded computations however they are written.

Numbers: every shipped text file is read with the worksheet grader's own number parser
(``find_numbers``: "57.8M", "57,823,240", "5.78e7", "231 MB" ...) and each number is compared with
every distinctive numeric key under that question's tolerance.

Computations: Python code (modules, notebook code cells) becomes, per function and per cell, the
sequence of operations it performs in evaluation order, with spellings folded together (``view``,
``reshape``, ``flatten``, ``unflatten`` and einops' ``rearrange`` are one RESHAPE; ``@``,
``matmul``, ``bmm`` and ``einsum`` one MATMUL; ``F.scaled_dot_product_attention`` is MATMUL SOFTMAX
MATMUL; ...). Each graded forward has a signature, an ordered list of operations (the staff solution
must match its own signature: ``tests/test_handout_leaks.py`` checks that); a shipped function or
cell that contains a signature as a subsequence repeats that computation, whatever its names,
layout or style.
"""
from __future__ import annotations

import ast
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".py", ".md", ".ipynb", ".yaml", ".yml", ".txt", ".ini", ".cfg", ".toml", ".json", ".csv", "")

# Call names (the last part of the called expression) -> operations.
CALLS: dict[str, tuple[str, ...]] = {
    **{n: ("RESHAPE",) for n in ("reshape", "view", "view_as", "flatten", "unflatten")},
    "rearrange": ("RESHAPE", "PERMUTE"),  # einops: a pattern string does both
    **{n: ("PERMUTE",) for n in ("permute", "transpose", "swapaxes", "swapdims", "movedim", "t")},
    **{n: ("MATMUL",) for n in ("matmul", "bmm", "mm", "einsum", "baddbmm")},
    **{n: ("SOFTMAX",) for n in ("softmax", "_softmax")},
    # the whole attention core in one call (DESIGN.md §6 forbids it in the student's attention)
    "scaled_dot_product_attention": ("MATMUL", "SOFTMAX", "MATMUL"),
    # Submodule calls by the names the handout's constructors fix.
    **{n: ("CONV",) for n in ("proj", "conv2d", "conv", "conv1", "conv2", "patch_proj", "unfold")},
    **{n: ("BN",) for n in ("bn1", "bn2", "batch_norm", "bn")},
    **{n: ("RELU",) for n in ("relu", "relu_", "ReLU")},
    **{n: ("NORM",) for n in ("norm", "norm1", "norm2", "layer_norm")},
    **{n: ("ATTN",) for n in ("attn", "attention", "self_attn")},
    **{n: ("MLP",) for n in ("mlp", "ffn")},
    **{n: ("FC",) for n in ("fc1", "fc2")},
    **{n: ("ACT",) for n in ("act", "gelu", "GELU")},
    **{n: ("POSEMB",) for n in ("pos_embed",)},
    **{n: ("PATCH",) for n in ("patch_embed",)},
    **{n: ("CAT",) for n in ("cat", "concat", "concatenate")},
    **{n: ("ENCODER",) for n in ("encoder",)},
    **{n: ("HEAD",) for n in ("head",)},
    # AlexNet's layer stack, as constructor calls
    "Conv2d": ("CONV2D",), "MaxPool2d": ("POOL",),
}
# An ``x + <pos table>`` addition.
POS_TABLES = ("pos_embedding", "pos_embed")


@dataclass(frozen=True)
class Signature:
    """A graded computation: the ordered operations it cannot do without.

    Args:
        item: the graded item (``vit/MultiHeadSelfAttention``) whose staff solution it describes.
        ops: operations in order (a match may have others in between).
        adjacent: pairs of consecutive positions in ``ops`` that must also be adjacent in a match.
    """

    item: str
    ops: tuple[str, ...]
    adjacent: tuple[int, ...] = ()


SIGNATURES = (
    # heads split from one projection, scores q k^T, softmax over them
    Signature("vit/MultiHeadSelfAttention", ("RESHAPE", "MATMUL", "SOFTMAX")),
    # the patch grid flattened to tokens with channels last, right after the patch projection
    Signature("vit/PatchEmbed", ("CONV", "RESHAPE", "PERMUTE"), adjacent=(1,)),
    Signature("vit/PatchEmbed", ("CONV", "PERMUTE", "RESHAPE"), adjacent=(1,)),
    Signature("vit/AddPositionEmbs", ("ADD_POS",)),
    Signature("vit/MlpBlock", ("FC", "ACT", "FC")),
    Signature("vit/Encoder1DBlock", ("NORM", "ATTN", "NORM", "MLP")),
    Signature("vit/Encoder", ("POSEMB", "NORM")),
    Signature("vit/VisionTransformer", ("PATCH", "CAT", "ENCODER", "HEAD")),
    Signature("resnet/BasicBlock", ("CONV", "BN", "RELU", "CONV", "BN", "RELU")),
    Signature("alexnet/AlexNet", ("CONV2D", "RELU", "POOL", "CONV2D", "RELU", "POOL", "CONV2D", "RELU", "CONV2D",
                                  "RELU", "CONV2D", "RELU", "POOL")),
)


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _names_pos_table(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in POS_TABLES) or (
        isinstance(node, ast.Name) and node.id in POS_TABLES)


def operations(node: ast.AST) -> list[str]:
    """The operations ``node`` performs, in evaluation order (receivers and arguments before a call).

    Args:
        node: a parsed function, module or cell.
    """
    out: list[str] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Call):
            visit(n.func)
            for a in n.args:
                visit(a)
            for k in n.keywords:
                visit(k.value)
            out.extend(CALLS.get(_call_name(n.func), ()))
        elif isinstance(n, ast.BinOp):
            visit(n.left)
            visit(n.right)
            if isinstance(n.op, ast.MatMult):
                out.append("MATMUL")
            elif isinstance(n.op, ast.Add) and (_names_pos_table(n.left) or _names_pos_table(n.right)):
                out.append("ADD_POS")
        elif isinstance(n, ast.AugAssign):
            visit(n.value)
            if isinstance(n.op, ast.Add) and _names_pos_table(n.value):
                out.append("ADD_POS")
        elif isinstance(n, ast.Attribute):
            visit(n.value)
            if n.attr == "mT":
                out.append("PERMUTE")
        else:
            for child in ast.iter_child_nodes(n):
                visit(child)

    visit(node)
    return out


def matches(ops: list[str], sig: Signature) -> bool:
    """Whether ``sig.ops`` occurs in ``ops`` in order (gaps allowed except at ``sig.adjacent``)."""

    def search(i: int, j: int, last: int) -> bool:
        if j == len(sig.ops):
            return True
        for k in range(i, len(ops)):
            if ops[k] != sig.ops[j]:
                continue
            if j - 1 in sig.adjacent and k != last + 1:
                continue
            if search(k + 1, j + 1, k):
                return True
            if j - 1 in sig.adjacent:
                return False
        return False

    return search(0, 0, -2)


@dataclass(frozen=True)
class Unit:
    """A piece of code checked on its own: a function, a notebook cell, or a module's top level."""

    where: str
    tree: ast.AST


def code_units(name: str, source: str) -> list[Unit]:
    """Functions (each on its own, with what they nest) and the whole text of one piece of code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    units = [Unit(name, tree)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            units.append(Unit(f"{name}:{node.lineno} {node.name}", node))
    return units


def python_sources(root: Path) -> dict[str, str]:
    """Python code of a handout: every ``.py`` file and every notebook code cell (``file#cell-id``)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".venv/") or "__pycache__" in rel or not path.is_file():
            continue
        if path.suffix == ".py":
            out[rel] = path.read_text(encoding="utf-8", errors="replace")
        elif path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            for i, cell in enumerate(nb.get("cells", [])):
                if cell.get("cell_type") == "code":
                    cid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", i)
                    out[f"{rel}#{cid}"] = "".join(cell.get("source", ""))
    return out


def computation_leaks(root: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, graded item, signature) for each shipped function or cell that repeats a graded computation."""
    found = []
    for name, source in python_sources(root).items():
        for unit in code_units(name, source):
            ops = operations(unit.tree)
            for sig in SIGNATURES:
                if matches(ops, sig):
                    found.append((unit.where, sig.item, sig.ops))
    # a module's top level holds its functions: keep the narrowest place only
    narrow = {(w.split(":")[0], item) for w, item, _ in found if ":" in w}
    return [f for f in found if ":" in f[0] or (f[0], f[1]) not in narrow]


# -----------------------------------------------------------------------------------------------
# Normalised token streams: a copy with other names, spacing or comments
# -----------------------------------------------------------------------------------------------
def tokens(source: str) -> list[str]:
    """Significant tokens with plain names folded to ``NAME`` (attribute names, keywords, numbers,
    operators kept); comments, strings and layout dropped."""
    out = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return out
    import keyword

    prev = ""
    for tok in toks:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                        tokenize.STRING, tokenize.ENDMARKER):
            continue
        text = tok.string
        if tok.type == tokenize.NAME and not keyword.iskeyword(text) and prev != ".":
            text = "NAME"
        out.append(text)
        prev = tok.string
    return out


def shared_windows(solution: list[str], shipped: list[str], width: int) -> list[str]:
    """Windows of ``width`` tokens of ``solution`` that also occur in ``shipped``."""
    have = {tuple(shipped[i:i + width]) for i in range(len(shipped) - width + 1)}
    return [" ".join(solution[i:i + width]) for i in range(len(solution) - width + 1)
            if tuple(solution[i:i + width]) in have]


# -----------------------------------------------------------------------------------------------
# Numbers
# -----------------------------------------------------------------------------------------------
def significant_digits(x: float) -> int:
    """Significant digits of ``x`` written out (57823240 -> 7, 1024 -> 4, 45000 -> 2, 8.58 -> 3)."""
    text = f"{x:.12g}".replace("-", "").replace(".", "").lstrip("0").rstrip("0")
    if "e" in text:
        text = text.split("e")[0]
    return len(text.rstrip("0")) or 1


def distinctive(x: float) -> bool:
    """A key worth looking for: at least 3 significant digits and not a power of two (those are
    everyday sizes: 512, 1024)."""
    is_pow2 = x > 0 and float(x).is_integer() and (int(x) & (int(x) - 1)) == 0
    return significant_digits(x) >= 3 and not is_pow2


def close(value: float, expected: float, spec: dict) -> bool:
    """The worksheet grader's comparison (``rel_tol`` / ``abs_tol``; exact to 1e-6 when neither)."""
    rel, abs_tol = float(spec.get("rel_tol", 0.0)), float(spec.get("abs_tol", 0.0))
    if not rel and not abs_tol:
        rel = 1e-6
    return math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol)


def text_files(root: Path) -> dict[str, str]:
    """Every text file of a handout (notebooks as their cells' text)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".venv/") or "__pycache__" in rel or not path.is_file():
            continue
        if path.suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".ipynb":
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) for c in cells)
        out[rel] = text
    return out


# A product of several numbers ("96 x 96", "256 x 6 x 6"): the grader may evaluate it, but it states
# sizes, not an answer; scientific notation ("5.78 x 10^7") is a single number and is kept.
_PRODUCT_RE = re.compile(r"\d\s*(?:x|×|\*)\s*(?!10\s*(?:\^|\*\*))\d", re.IGNORECASE)


def is_product(text: str) -> bool:
    """Whether a quantity's text is a product of numbers rather than one number."""
    return bool(_PRODUCT_RE.search(text))


def number_leaks(root: Path, keys: dict[str, tuple[float, dict]], find_numbers) -> list[tuple[str, int, str, str]]:
    """(file, line, question, spelling) for each shipped number the grader would accept for a key.

    Products of numbers ("96 x 96" is an image size, and 9,216 a key) are left out: see ``is_product``.

    Args:
        root: the handout.
        keys: question id -> (expected value, its rubric spec); only distinctive keys are looked for.
        find_numbers: the worksheet grader's parser, ``find_numbers(text, unit)``.
    """
    wanted = {qid: (v, spec) for qid, (v, spec) in keys.items() if distinctive(v)}
    found = []
    for rel, text in text_files(root).items():
        for lineno, line in enumerate(text.splitlines(), 1):
            if not re.search(r"\d", line):
                continue
            for unit in (None, "bytes"):
                for num in find_numbers(line, unit):
                    if is_product(num.text):
                        continue
                    for qid, (expected, spec) in wanted.items():
                        if (spec.get("unit") == "bytes") == (unit == "bytes") and close(num.value, expected, spec):
                            found.append((rel, lineno, qid, num.text))
    return sorted(set(found))
