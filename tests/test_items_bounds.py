"""Every piece of student-derived text stays bounded and valid UTF-8 (issue 12 items 3 and 4):
an exception message of megabytes, a flood of printed output, bytes that are not UTF-8; and an
import that raises is reported with what it raised."""
from __future__ import annotations

import json

from autograder.grading import grade_code_items
from autograder.results import (RESULTS_FILE_BYTES, TEST_OUTPUT_BYTES, TestResult, bound_results, cap_text,
                                clean_text, write_results)
from tests.test_items_support import InProcessSandbox, StandInResult, make_submission, staff_text

VIT = "models/vit.py"
KIB, MIB = 1024, 1024 * 1024


def _write(tmp_path, results) -> tuple[dict, bytes]:
    out = tmp_path / "results.json"
    write_results(str(out), results)
    raw = out.read_bytes()
    return json.loads(raw.decode("utf-8")), raw  # strict UTF-8: raises on invalid bytes


def _assert_bounded(data: dict, raw: bytes) -> None:
    assert len(raw) < MIB
    for t in data["tests"]:
        assert len(json.dumps(t["output"], ensure_ascii=False).encode("utf-8")) < 16 * KIB, t["name"]


def test_import_that_raises_runtime_error_says_what_it_raised(tmp_path):
    text = staff_text(VIT) + "\nraise RuntimeError('CUDA is not available on this machine')\n"
    results = grade_code_items(make_submission(tmp_path, {VIT: text}), InProcessSandbox(tmp_path),
                               items=["vit/PatchEmbed"])
    out = results[0].output
    assert results[0].score == 0
    assert "not implemented" not in out
    assert "the import raised RuntimeError" in out
    assert "RuntimeError: CUDA is not available on this machine" in out


def test_import_that_raises_not_implemented_is_not_implemented_yet(tmp_path):
    text = staff_text(VIT) + "\nraise NotImplementedError('later')\n"
    results = grade_code_items(make_submission(tmp_path, {VIT: text}), InProcessSandbox(tmp_path),
                               items=["vit/PatchEmbed"])
    assert "not implemented yet (importing models/vit.py raises NotImplementedError)" in results[0].output


def test_message_naming_not_implemented_error_is_not_mistaken_for_one(tmp_path):
    text = staff_text(VIT) + "\nraise ValueError('I have not raised NotImplementedError')\n"
    results = grade_code_items(make_submission(tmp_path, {VIT: text}), InProcessSandbox(tmp_path),
                               items=["vit/PatchEmbed"])
    assert "the import raised ValueError" in results[0].output
    assert "not implemented yet" not in results[0].output


def test_three_megabyte_exception_message_gives_a_small_valid_results_file(tmp_path):
    """Every configuration raises a 3 MB message: each traceback is cut in the child, the item's
    output stays under 16 KiB and the file under 1 MiB."""
    text = staff_text(VIT).replace('"""[B, C, H, W] images -> [B, N, D] patch tokens in row-major order."""',
                                   '"""Raises."""\n        raise ValueError("x" * 3_000_000 + "END")')
    root = make_submission(tmp_path / "sub", {VIT: text})
    results = grade_code_items(root, InProcessSandbox(root), items=["vit/PatchEmbed"])
    assert results[0].score == 0
    assert "ValueError: xxx" in results[0].output and "characters of this traceback cut" in results[0].output
    assert "END" in results[0].output  # the tail (the end of the message) is kept
    data, raw = _write(tmp_path, results)
    _assert_bounded(data, raw)


class _FloodSandbox(InProcessSandbox):
    """Runs the task in process, then hands back the printed output a flooding child would."""

    def __init__(self, workdir, stdout: str) -> None:
        super().__init__(workdir)
        self.stdout = stdout

    def run(self, task, payload):
        res = super().run(task, payload)
        return StandInResult(res.ok, res.value, res.error, res.limit, self.stdout)


def test_stdout_flood_gives_a_small_valid_results_file(tmp_path):
    """A print flood (20 MB here; the cap path is the same for 200 MB) on every item of a failing
    file: each item shows a cut excerpt and the whole file stays under 1 MiB."""
    text = staff_text(VIT).replace("return x.transpose(1, 2)  # (B, N, D)", "return x  # (B, D, N)")
    root = make_submission(tmp_path / "sub", {VIT: text})
    flood = "spam " * 4_000_000 + "LAST LINE"
    results = grade_code_items(root, _FloodSandbox(root, flood), items=["vit/PatchEmbed"])
    out = results[0].output
    assert "Your code printed:" in out and "characters of this printed output cut" in out and "LAST LINE" in out
    data, raw = _write(tmp_path, results * 200)  # many failing tests: the file cap takes over
    _assert_bounded(data, raw)
    assert len(data["tests"]) == 200


def test_non_utf8_message_becomes_valid_utf8(tmp_path):
    """Invalid bytes and lone surrogates (what surrogateescape makes of them) become U+FFFD."""
    text = staff_text(VIT).replace(
        '"""[B, C, H, W] images -> [B, N, D] patch tokens in row-major order."""',
        '"""Raises."""\n        raise ValueError(b"caf\\xe9 \\xff".decode("utf-8", "surrogateescape") + " \\ud800 end")')
    root = make_submission(tmp_path / "sub", {VIT: text})
    results = grade_code_items(root, InProcessSandbox(root), items=["vit/PatchEmbed"])
    data, raw = _write(tmp_path, results)
    _assert_bounded(data, raw)
    assert "ValueError: caf\ufffd \ufffd \ufffd end" in data["tests"][0]["output"]


def test_clean_and_cap_text():
    assert clean_text(b"ok \xff") == "ok \ufffd"
    assert clean_text("a\udcffb") == "a\ufffdb"
    assert clean_text(7) == "7"
    assert cap_text("short") == "short"
    cut = cap_text("é" * 100_000, 1000)
    assert len(json.dumps(cut, ensure_ascii=False).encode()) <= 1000
    assert cut.startswith("éé") and cut.endswith("éé") and "characters of this output cut" in cut
    escaped = cap_text("\x01" * 100_000, 1000)  # each one is 6 bytes once JSON-escaped
    assert len(json.dumps(escaped, ensure_ascii=False).encode()) <= 1000


def test_test_result_caps_its_output_and_the_file_shrinks_every_part():
    big = TestResult("x", 0, 1, "y" * 100_000)
    assert len(big.output.encode()) <= TEST_OUTPUT_BYTES
    data = bound_results({"score": 0, "output": "z" * 100_000, "tests": [big.to_json()] * 300,
                          "extra_data": {"answers": ["w" * 50_000] * 30}})
    assert len(json.dumps(data, ensure_ascii=False, indent=2).encode()) <= RESULTS_FILE_BYTES
    assert len(data["tests"]) == 300


def test_real_sandbox_flood_of_bad_bytes_and_a_huge_message_stay_bounded(tmp_path):
    """Through the real sandboxed child: forward writes 20 MB to stdout in chunks (invalid UTF-8
    included), then raises a 3 MB message; the results file is valid JSON under 1 MiB."""
    from autograder.sandbox import Limits, Sandbox

    text = staff_text(VIT).replace(
        '"""[B, C, H, W] images -> [B, N, D] patch tokens in row-major order."""',
        '"""Floods."""\n        import sys\n        chunk = b"\\xff\\xfe spam \\xed\\xa0\\x80 " * 8192\n'
        '        for _ in range(20_000_000 // len(chunk)):\n            sys.stdout.buffer.write(chunk)\n'
        '        sys.stdout.flush()\n        raise ValueError("m" * 3_000_000)')
    root = make_submission(tmp_path / "sub", {VIT: text})
    with Sandbox(root, task_module="autograder.tasks", limits=Limits()) as sb:
        results = grade_code_items(root, sb, items=["vit/PatchEmbed"])
    assert results[0].score == 0
    data, raw = _write(tmp_path, results)
    _assert_bounded(data, raw)
    out = data["tests"][0]["output"]
    assert "ValueError: mmm" in out and "Your code printed:" in out and "\ufffd" in out
