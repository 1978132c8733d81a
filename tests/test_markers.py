"""autograder.markers: nbgrader's regions found, checked and stripped in .py, .md and .ipynb files."""
import json

import nbformat
import pytest

from autograder.markers import (
    CODE_STUB, REGIONS, TEXT_STUB, MarkerError, check_regions, find_markers, has_solution_regions, strip_file,
    strip_text,
)

BEGIN, END = REGIONS["solution"]
HBEGIN, HEND = REGIONS["hidden tests"]

PY = f'''class Block:
    def forward(self, x):
        """Docstring kept."""
        ### {BEGIN}
        return x * 2
        ### {END}

def helper():
    return 1
'''

MD = f"""## Q1
<!-- answer q1 -->
<!-- {BEGIN} -->
57,823,240 parameters
<!-- {END} -->
<!-- end answer q1 -->
"""


def test_code_region_becomes_nbgraders_stub_at_its_indent():
    out = strip_text(PY, "code", "vit.py")
    assert "x * 2" not in out and not find_markers(out)
    assert "        # YOUR CODE HERE\n        raise NotImplementedError()" in out
    assert '"""Docstring kept."""' in out and "def helper():\n    return 1\n" in out
    compile(out, "vit.py", "exec")  # still valid python


def test_markdown_region_becomes_text_stub_and_answer_markers_survive():
    out = strip_text(MD, "markdown", "WORKSHEET.md")
    assert "57,823,240" not in out and not find_markers(out)
    assert out.splitlines()[1:4] == ["<!-- answer q1 -->", TEXT_STUB, "<!-- end answer q1 -->"]


def test_hidden_tests_removed():
    text = f"def test_a():\n    assert 1\n    ### {HBEGIN}\n    assert secret()\n    ### {HEND}\n"
    out = strip_text(text, "code")
    assert "secret" not in out and "assert 1" in out and not find_markers(out)


@pytest.mark.parametrize("text, words", [
    (f"### {BEGIN}\nx = 1\n", "never closed"),
    (f"x = 1\n### {END}\n", "no open region"),
    (f"### {BEGIN}\n### {BEGIN}\n### {END}\n", "inside the solution region"),
    (f"### {BEGIN}\n### {HEND}\n", "closes a hidden tests region"),
    ("    # Begin Solution\nx = 1\n", "not one nbgrader recognises"),
    ("<!--  begin  solutions -->\n", "not one nbgrader recognises"),
])
def test_malformed_regions_fail_naming_file_and_line(text, words):
    with pytest.raises(MarkerError, match=words) as info:
        check_regions(text, "models/vit.py")
    assert "models/vit.py:" in str(info.value)


def test_find_markers_reports_lines_and_kinds():
    found = find_markers(PY)
    assert [(m.line, m.region, m.begin, m.exact) for m in found] == [(4, "solution", True, True), (6, "solution", False, True)]
    assert find_markers("nothing to see\n# begin the solution later\n") == []


def test_this_module_holds_no_literal_marker():
    import autograder.markers as m

    assert find_markers(open(m.__file__).read()) == []


def test_strip_file_notebook_and_other_types(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"def f():\n    ### {BEGIN}\n    return 3\n    ### {END}", outputs=[
            nbformat.v4.new_output("stream", text="3\n")]),
        nbformat.v4.new_markdown_cell(f"<!-- {BEGIN} -->\nanswer\n<!-- {END} -->"),
    ])
    nbformat.write(nb, tmp_path / "hw.ipynb")
    assert strip_file(tmp_path / "hw.ipynb", tmp_path / "out" / "hw.ipynb")
    out = nbformat.read(tmp_path / "out" / "hw.ipynb", as_version=4)
    assert CODE_STUB.splitlines()[1] in out.cells[0].source and out.cells[0].outputs == []
    assert out.cells[1].source == TEXT_STUB
    (tmp_path / "plain.txt").write_text("no markers\n")
    assert not strip_file(tmp_path / "plain.txt", tmp_path / "out" / "plain.txt")
    (tmp_path / "bad.yaml").write_text(f"# {BEGIN}\n")
    with pytest.raises(MarkerError, match=r"bad.yaml:1: .*only stripped from .py, .md and .ipynb"):
        strip_file(tmp_path / "bad.yaml", tmp_path / "out" / "bad.yaml")


def test_has_solution_regions(tmp_path):
    (tmp_path / "a.py").write_text(PY)
    (tmp_path / "b.py").write_text("x = 1\n")
    (tmp_path / "c.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["x"], "metadata": {
        "nbgrader": {"solution": True}}}]}))
    (tmp_path / "d.bin").write_bytes(b"\xff\xfe\x00")
    assert [has_solution_regions(tmp_path / n) for n in ("a.py", "b.py", "c.ipynb", "d.bin")] == [True, False, True, False]


def test_markers_quoted_in_markdown_code_are_documentation():
    doc = (f"Write regions between `### {BEGIN}` and `### {END}`.\n"
           f"```python\n### {BEGIN}\nreturn x\n### {END}\n```\n"
           f"<!-- {BEGIN} -->\nsecret answer\n<!-- {END} -->\n")
    assert [m.line for m in find_markers(doc, markdown=True)] == [7, 9]
    assert len(find_markers(doc)) == 5  # as code, every marker line counts
    out = strip_text(doc, "markdown", "README.md")
    assert "secret answer" not in out and TEXT_STUB in out
    assert out.splitlines()[:6] == doc.splitlines()[:6]  # the quoted markers survive untouched
    assert find_markers(out, markdown=True) == []
