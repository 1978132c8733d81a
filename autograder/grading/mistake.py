"""The ``Mistake`` type: one catalogued mistake, shared by the grader's diagnosis
(``autograder.grading.diagnosis``) and the catalogues that list mistakes (the staff's
``autograder/staff/mistakes.py``, the public ``autograder/grading/public_mistakes.py``).

It lives in a module of its own so that a catalogue and the diagnosis never import each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Mistake:
    """One realistic mistake.

    Args:
        item: the graded item, e.g. ``vit/MultiHeadSelfAttention``.
        key: a short identifier, e.g. ``unscaled_scores``.
        description: what the student did, in plain words (shown as the diagnosis).
        forward: ``forward(self, *inputs)`` as written with the mistake, replacing the class's.
        transform: ``transform(model)`` changing a built model (for classes whose layers are graded).
        symptom: ``symptom(results) -> bool`` over the child's per-configuration results, for
            mistakes that leave the output right but show elsewhere (randomness, order); when set,
            the mutant's output is not compared.
        public: whether the diagnosis may be shown by ``check`` in the handout (its mutant's
            outputs on the public cases ship as numbers, never its code).
        outputs: the mutant's output per case, stored (the public catalogue, which has no code);
            compared instead of running ``forward`` / ``transform``.
    """

    item: str
    key: str
    description: str
    forward: Callable | None = None
    transform: Callable | None = None
    symptom: Callable[[list[dict]], bool] | None = None
    public: bool = False
    outputs: tuple | None = field(default=None, compare=False)
