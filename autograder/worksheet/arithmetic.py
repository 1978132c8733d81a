"""A safe evaluator for the arithmetic students write in number answers ("3 * 41**2", "(96 / 8)**2 + 1").

The expression is parsed with :func:`ast.parse` (which only builds a syntax tree; nothing runs)
and the tree is walked by hand: numbers, ``+ - * / // % **``, unary signs, parentheses and the
calls ``floor``, ``ceil``, ``sqrt``, ``round`` and ``log2``. Any other node (names, attributes,
subscripts, comprehensions, ...) is refused, so student text can never run code. Results are
floats; a result that overflows or is not finite, and an exponent above ``MAX_EXPONENT``, raise
``ArithmeticRefused`` instead of hanging or crashing the grader.
"""
from __future__ import annotations

import ast
import math
import operator

MAX_EXPONENT = 1000.0  # 2 ** 10 ** 10 would take forever as an int; refuse it
MAX_SOURCE = 400  # characters: longer "expressions" are prose, not arithmetic

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CALLS = {"floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt, "round": round, "log2": math.log2}


class ArithmeticRefused(ValueError):
    """The text is not plain arithmetic, or its value cannot be represented (overflow, division by zero)."""


def evaluate(source: str) -> float:
    """The value of a plain arithmetic expression, computed without ``eval``.

    Args:
        source: Python-syntax arithmetic, e.g. ``"3 * 41 ** 2"`` (callers translate ``×``,
            ``^`` and ``²`` first).

    Returns:
        the value as a finite float.

    Raises:
        ArithmeticRefused: anything but numbers, the operators above and the allowed calls;
            division by zero; an exponent above ``MAX_EXPONENT``; a non-finite result.
    """
    if len(source) > MAX_SOURCE:
        raise ArithmeticRefused(f"expression longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError) as e:
        raise ArithmeticRefused(f"not arithmetic: {source!r}") from e
    try:
        value = float(_walk(tree.body))
    except (OverflowError, ZeroDivisionError, ValueError, TypeError) as e:
        raise ArithmeticRefused(f"{source!r} has no finite value ({type(e).__name__})") from e
    if not math.isfinite(value):
        raise ArithmeticRefused(f"{source!r} has no finite value")
    return value


def _walk(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        value = float(node.value)  # an int of 400 digits raises OverflowError here
        if not math.isfinite(value):
            raise OverflowError("literal too large")
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise OverflowError(f"exponent {right:g} above {MAX_EXPONENT:g}")
        return float(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS
            and len(node.args) == 1 and not node.keywords):
        return float(_CALLS[node.func.id](_walk(node.args[0])))
    raise ArithmeticRefused(f"{type(node).__name__} is not allowed in an answer's arithmetic")
