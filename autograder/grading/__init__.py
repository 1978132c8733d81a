"""Grading the code items: the ViT classes, AlexNet and the ResNet block (DESIGN.md §6).

The pipeline, one small step each:
    ``reference`` (seeded configurations and the grader's reference results) -> the sandboxed
    child runs the student's class on them (``autograder.tasks.check_module``) -> ``compare``
    (per configuration: output, determinism, gradients) -> ``diagnosis`` (which known mistake the
    outputs match) -> ``forbidden`` (calls the rubric forbids, found in the source and trapped at
    run time) -> a ``TestResult`` per item, scored by the rubric.

Entry point: ``grade_code_items(workdir, sandbox)``. It never raises on student code: an import
error, crash or timeout becomes a zero-score result with the reason, and every item is present.
"""
from __future__ import annotations

import traceback
from dataclasses import replace
from pathlib import Path

import torch

from autograder.grading.compare import check_case
from autograder.grading.diagnosis import diagnose, load_mistakes, mutant_outputs
from autograder.grading.mistake import Mistake
from autograder.grading.forbidden import find_forbidden
from autograder.grading.reference import ITEM_NAMES, ITEMS, Case, Item
from autograder.grading.rubric import DEFAULT_RUBRIC, RubricError, load_rubric
from autograder.results import TestResult, cap_text

__all__ = ["grade_code_items", "load_rubric", "ITEM_NAMES", "RubricError", "DEFAULT_RUBRIC", "grade_item"]

_CASES: dict[str, list[Case]] = {}  # each item's cases (stored or made), once per process
_LIVE: dict[str, list[Case]] = {}  # each item's made cases, with their reference modules
_MUTANT_OUTPUTS: dict[tuple[str, str], tuple] = {}  # (item, mistake key) -> its mutant's output per case, stored


def cases_for(item: Item, public: bool = False) -> list[Case]:
    """The item's seeded cases and reference results (once per process; see ``prepare_references``).

    Args:
        item: the graded item.
        public: the cases ``check`` runs: the shipped public cases where the item has them
            (``autograder.grading.public``), else the graded ones.
    """
    if public:
        from autograder.grading.public import public_cases

        shipped = public_cases(item.name)
        if shipped is not None:
            return shipped
    if item.name not in _CASES:
        _CASES[item.name] = live_cases(item)
    return _CASES[item.name]


def live_cases(item: Item) -> list[Case]:
    """The item's cases made by running the references (with their modules, which the diagnosis
    needs), once per process. Equal, bit for bit, to the stored ones of the same fingerprint."""
    if item.name not in _LIVE:
        _LIVE[item.name] = item.make_cases()
    return _LIVE[item.name]


def prepare_references(make: bool = False) -> None:
    """Every item's cases and the catalogue's mutant outputs, ready before any student is graded:
    read from the reference store (``autograder.grading.store``) when it is current, else made (at
    one thread, as the items make them) and stored for the next run (replacing a damaged file).

    Args:
        make: make the cases even when the store is current (``grade-all``: every worker then
            inherits the reference modules).

    A case that fails to be made is left to its item, which reports the failure. Never raises for
    a store that cannot be read or written.
    """
    from autograder.grading import store

    if not make and all(name in _CASES for name in ITEM_NAMES):
        return
    stored = store.load()
    if stored is not None:
        _MUTANT_OUTPUTS.update(stored.mistake_outputs)
        if not make:
            for name in ITEM_NAMES:
                _CASES.setdefault(name, stored.cases[name])
            return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in ITEM_NAMES:
            try:
                _CASES[name] = live_cases(ITEMS[name])
            except Exception:  # noqa: BLE001
                pass
        made = all(name in _LIVE for name in ITEM_NAMES)
        outputs = _mutant_outputs() if made and stored is None else {}
    finally:
        torch.set_num_threads(threads)
    if made and stored is None:
        _MUTANT_OUTPUTS.update(outputs)
        store.save(_LIVE, outputs)


def _mutant_outputs() -> dict[tuple[str, str], tuple]:
    """(item, mistake key) -> the catalogue mutant's output per made case, as the diagnosis
    computes it (mistakes told by a symptom have none)."""
    out = {}
    for m in load_mistakes():
        if m.symptom is not None or m.item not in _LIVE:
            continue
        try:
            out[(m.item, m.key)] = mutant_outputs(m, _LIVE[m.item])
        except Exception:  # noqa: BLE001 - left to the diagnosis, which runs the mutant itself
            pass
    return out


def _with_stored_outputs(mistakes: list[Mistake]) -> list[Mistake]:
    """The staff catalogue with each mutant's outputs from the store where it has them (then the
    diagnosis needs no reference module)."""
    return [replace(m, outputs=_MUTANT_OUTPUTS[(m.item, m.key)])
            if m.outputs is None and m.symptom is None and (m.item, m.key) in _MUTANT_OUTPUTS else m
            for m in mistakes]


def grade_code_items(workdir: Path, sandbox, rubric: dict | None = None, public_only: bool = False,
                     items: list[str] | None = None) -> list[TestResult]:
    """Grades every code item of one submission.

    Args:
        workdir: the submission laid out like the handout (the sandbox's working directory).
        sandbox: an open ``autograder.sandbox.Sandbox`` whose task module is ``autograder.tasks``.
        rubric: from ``load_rubric()``; default: the staff rubric, or the built-in public defaults.
        public_only: grade only the items the rubric marks public (``check``).
        items: grade only these item names (default: all, in ``ITEM_NAMES`` order).

    Returns:
        One ``TestResult`` per item, in ``ITEM_NAMES`` order.
    """
    rubric = rubric or load_rubric()
    if public_only:  # check: the public part of the catalogue, the same in the staff repo and the handout
        from autograder.grading.public import public_mistakes

        mistakes = public_mistakes()
    else:
        mistakes = _with_stored_outputs(load_mistakes())
    results = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny float64 tensors: one thread is fastest, and grade-all runs jobs side by side
    try:
        broken = _probe_imports(sandbox, rubric, public_only, items)
        for name in ITEM_NAMES:
            if ITEMS[name].module in broken and _selected(name, rubric, public_only, items):
                spec = rubric["items"][name]
                results.append(TestResult(name, 0.0, float(spec["points"]), broken[ITEMS[name].module],
                                          spec["visibility"]))
                continue
            _grade_one(name, rubric, public_only, items, Path(workdir), sandbox, mistakes, results)
    finally:
        torch.set_num_threads(threads)
    return results


def _selected(name: str, rubric: dict, public_only: bool, items: list[str] | None) -> bool:
    spec = rubric["items"][name]
    return not ((public_only and not spec["public"]) or (items is not None and name not in items))


def _probe_imports(sandbox, rubric: dict, public_only: bool, items: list[str] | None) -> dict[str, str]:
    """Imports each student module once; returns ``module -> feedback`` for those whose import hung or exited.

    An import that merely raises is left to the items (their feedback shows the traceback); an
    import that hits a sandbox limit or ends the child would cost the limit again for every item
    of that file, so those items are scored from this one attempt.
    """
    broken = {}
    for module in dict.fromkeys(ITEMS[n].module for n in ITEM_NAMES if _selected(n, rubric, public_only, items)):
        names = [n for n in ITEM_NAMES if ITEMS[n].module == module]
        files = sorted({ITEMS[n].file for n in names})
        trap = sorted({t for n in names for t in rubric["items"][n]["trap"]})
        run = sandbox.run("import_probe", {"module": module, "files": files, "trap": trap})
        if not run.ok:
            why = f"the {run.limit} was hit" if getattr(run, "limit", None) else "your code stopped the run"
            broken[module] = "\n".join(line for line in (
                f"Not graded: importing {', '.join(files)} did not finish ({why}). Every item in that file "
                f"needs the import; code at the top level of a module runs on import.",
                (run.error or "").strip()) if line)
    return broken


def _grade_one(name: str, rubric: dict, public_only: bool, items: list[str] | None, workdir: Path, sandbox,
               mistakes: list, results: list[TestResult]) -> None:
    spec = rubric["items"][name]
    if (public_only and not spec["public"]) or (items is not None and name not in items):
        return
    try:
        results.append(grade_item(ITEMS[name], workdir, sandbox, spec, rubric["tolerance"], mistakes,
                                  public=public_only))
    except Exception:  # noqa: BLE001 - a grader bug must not cost the other items
        results.append(TestResult(name, 0.0, float(spec["points"]),
                                  "The grader failed on this item (not your fault): please tell the staff.\n"
                                  + traceback.format_exc(limit=3), spec["visibility"]))


def _with_references(item: Item, cases: list[Case], mistakes: list[Mistake]) -> list[Case]:
    """``cases`` with their reference modules where a mistake of ``item`` must run its mutant
    (stored cases have none; stored mutant outputs need none): the made ones, or ``cases`` as they
    are when making them fails (the diagnosis then names nothing)."""
    if all(c.reference is not None or c.payload.get("meta_count") is not None for c in cases):
        return cases
    if all(m.outputs is not None or m.symptom is not None for m in mistakes if m.item == item.name):
        return cases
    try:
        return live_cases(item)
    except Exception:  # noqa: BLE001 - no diagnosis rather than no grade
        return cases


PRINTED_BYTES = 2048  # the student's printed output shown with a failing item
ERROR_BYTES = 4096  # the sandbox's report of a run that did not finish


def _printed(stdout: str) -> list[str]:
    """Feedback lines with what the student's code printed (cut to ``PRINTED_BYTES``), or none."""
    text = cap_text(stdout, PRINTED_BYTES, "printed output").strip()
    return ["Your code printed:", text] if text else []


def grade_item(item: Item, workdir: Path, sandbox, spec: dict, tolerance: dict, mistakes: list,
               public: bool = False) -> TestResult:
    """Grades one item: run in the sandbox, compare, diagnose, check forbidden calls, score.

    Args:
        public: run the public cases (``check``), see ``cases_for``.
    """
    points = float(spec["points"])
    rtol = spec["rtol"] if spec["rtol"] is not None else tolerance["rtol"]
    atol = spec["atol"] if spec["atol"] is not None else tolerance["atol"]
    cases = cases_for(item, public)
    header = f"Compared in float64: {item.compared}; rtol {rtol:g}, atol {atol:g}."

    def result(score: float, lines: list[str]) -> TestResult:
        return TestResult(item.name, round(score, 4), points, "\n".join(lines), spec["visibility"])

    source_path = workdir / item.file
    try:
        source = source_path.read_text()
    except (OSError, UnicodeDecodeError):
        source = ""
    static_hits = find_forbidden(source, item.cls, spec["forbidden"]) if item.name != "vit/end_to_end" else []

    payload = {"module": item.module, "cls": item.cls, "files": [item.file], "trap": spec["trap"],
               "configs": [c.payload for c in cases]}
    run = sandbox.run("check_module", payload)
    printed = _printed(getattr(run, "stdout", "") or "")
    if not run.ok:
        why = f"the {run.limit} was hit" if getattr(run, "limit", None) else "your code stopped the run"
        lines = [f"{item.cls}: not graded: {why}.", cap_text((run.error or "").strip(), ERROR_BYTES, "error")]
        return result(0.0, [line for line in lines + printed if line])
    value = run.value or {}
    if value.get("import_error"):
        err, kind = cap_text(value["import_error"], ERROR_BYTES, "traceback"), value.get("import_error_type")
        if kind == "NotImplementedError":
            return result(0.0, [f"{item.cls}: not implemented yet (importing {item.file} raises NotImplementedError).",
                                err])
        what = f"raised {kind}" if kind else "failed"
        return result(0.0, [f"Could not import {item.cls} from {item.file}: the import {what}:", err])
    got = list(value.get("configs", []))
    got += [{"error": "no result came back for this configuration"}] * (len(cases) - len(got))

    passed, lines = 0, []
    for i, (case, res) in enumerate(zip(cases, got), start=1):
        problems = check_case(case.expected, res if isinstance(res, dict) else {"error": "bad result"}, rtol, atol)
        if not problems:
            passed += 1
            continue
        if isinstance(res, dict) and res.get("error_type") == "NotImplementedError":
            return result(0.0, [f"{item.cls}: not implemented yet ({item.file} raises NotImplementedError)."])
        lines.append(f"FAILED configuration {i} ({case.label}):")
        lines += [f"  - {p}" for p in problems[:4]]
        if len(problems) > 4:
            lines.append(f"  - ... and {len(problems) - 4} more differences")
    score = points * passed / len(cases)
    lines.insert(0, f"{item.cls}: {passed}/{len(cases)} configurations match the reference. {header}")
    if passed < len(cases):
        found = diagnose(item.name, cases if public else _with_references(item, cases, mistakes), got, mistakes,
                         rtol, atol)
        lines += [f"Diagnosis: your results match a known mistake: {d}." for d in found]
        lines += printed

    runtime_hits = [c for c in value.get("calls", []) if isinstance(c, str)]
    if static_hits or runtime_hits:
        why = ["Forbidden for this item (the point is to write it yourself): score set to 0."]
        why += [f"  - in {item.file}, {h}" for h in static_hits]
        why += [f"  - called while your {item.cls} ran: {c}" for c in runtime_hits]
        return result(0.0, why + lines)
    return result(score, lines)
