"""docs/torch.md runs as written: its python blocks, in order, print what the page shows."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

import pytest

torch = pytest.importorskip("torch")

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "torch.md"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n(?:\n*^```\n(.*?)^```\n)?", re.M | re.S)


def doc_blocks(text):
    """``(code, expected_output or None)`` for every ```python block, in order; the
    expected output is a plain ``` block that directly follows it."""
    out = []
    for m in _FENCE.finditer(text):
        if m.group(1) == "python":
            out.append((m.group(2), m.group(3)))
    return out


def test_the_page_has_runnable_blocks_with_outputs():
    blocks = doc_blocks(DOC.read_text())
    assert len(blocks) >= 4
    assert all(expected is not None for _, expected in blocks)


def test_docs_torch_md_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("torchattacks")  # the page hands a mixture to torchattacks (test extra)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc__"}
    for i, (code, expected) in enumerate(doc_blocks(DOC.read_text())):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"docs/torch.md block {i}", "exec"), namespace)
        if expected is not None:
            assert buf.getvalue() == expected, f"block {i} printed\n{buf.getvalue()}\nthe page shows\n{expected}"
