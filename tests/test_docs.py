"""Every ```python block of README.md and docs/*.md runs as written (issue 9 sec. 6, issue 10 item 6).

The blocks of one file run in order in one namespace (a later block may use names an
earlier one defined), in a fresh temporary working directory, with matplotlib's Agg
backend. Shell blocks (```bash, ```console, ...) are not run. A block that cannot run on
CI (it needs a GPU, a download, hours) is marked on the line before its fence with

    <!-- doc-test: skip (needs a GPU) -->

and the reason in parentheses is required. A block needing torch is skipped (not failed)
when torch is not installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*doc-test:\s*skip\s*(?:\((?P<reason>[^)]*)\))?\s*-->\s*$")
_PYTHON = {"python", "py", "python3"}
_OPTIONAL = {"torch", "torchvision", "torchattacks", "sklearn"}
# Pages with a test of their own that runs every block and also compares printed output:
# not run twice (that test runs whenever it exists).
_OWN_TEST = {"docs/torch.md": "tests/test_torch_docs.py"}


def extract_blocks(text):
    """The fenced code blocks of a markdown text.

    Returns a list of ``(line, language, source, skip_reason)``; ``line`` is the 1-based
    line of the opening fence and ``skip_reason`` is ``None`` unless the previous
    non-blank line is a ``doc-test: skip`` marker. A malformed marker (no reason) is a
    ``ValueError``, and so is an unclosed fence.
    """
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group("fence"), m.group("info").strip(), i
        language = info.split()[0].lower() if info else ""
        body = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and set(lines[i].strip()) == {fence[0]}):
            body.append(lines[i][len(m.group("indent")):] if lines[i].startswith(m.group("indent")) else lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"line {start + 1}: code block never closed")
        i += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        skip = None
        if prev >= 0 and "doc-test" in lines[prev]:
            marker = _SKIP.match(lines[prev])
            if marker is None or not (marker.group("reason") or "").strip():
                raise ValueError(f"line {prev + 1}: a skip marker reads <!-- doc-test: skip (the reason) -->")
            skip = marker.group("reason").strip()
        blocks.append((start + 1, language, "\n".join(body) + "\n", skip))
    return blocks


def python_blocks(path):
    try:
        blocks = extract_blocks(Path(path).read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return [b for b in blocks if b[1] in _PYTHON]


def run_blocks(path, namespace=None, keep_going=False):
    """Run the python blocks of ``path`` in order in one namespace.

    Returns ``[(line, error)]`` for the blocks that failed (``keep_going=True`` runs all of
    them; otherwise the first failure is raised, naming the file and line).
    """
    namespace = {"__name__": "__doc_test__"} if namespace is None else namespace
    failures = []
    rel = Path(path).resolve().relative_to(ROOT) if Path(path).resolve().is_relative_to(ROOT) else Path(path)
    for line, _, source, skip in python_blocks(path):
        if skip is not None:
            continue
        try:
            code = compile(source, f"{rel}:{line}", "exec")
            exec(code, namespace)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] in _OPTIONAL:
                pytest.skip(f"{rel}:{line} needs {e.name}")
            if not keep_going:
                raise
            failures.append((line, e))
        except Exception as e:
            if not keep_going:
                raise AssertionError(f"the python block at {rel}:{line} fails: {type(e).__name__}: {e}") from e
            failures.append((line, e))
        finally:
            _close_figures()
    return failures


def _close_figures():
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture
def doc_sandbox(tmp_path, monkeypatch):
    """A temporary working directory and a non-interactive matplotlib."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        import matplotlib
    except ImportError:
        pass
    else:
        matplotlib.use("Agg", force=True)
    yield tmp_path
    _close_figures()


def _doc_ids():
    return [str(p.relative_to(ROOT)) for p in DOC_FILES]


@pytest.mark.slow  # the tutorial runs MNE21's experiment; deselect with -m "not slow"
@pytest.mark.parametrize("path", DOC_FILES, ids=_doc_ids())
def test_doc_python_blocks_run(path, doc_sandbox):
    if not python_blocks(path):
        pytest.skip(f"{path.name} has no python block")
    own = _OWN_TEST.get(str(path.relative_to(ROOT)))
    if own is not None and (ROOT / own).exists():
        pytest.skip(f"{path.name} runs in {own}, which also checks its output")
    run_blocks(path)


# ----------------------------------------------------------------- the extractor itself

_SAMPLE = '''# Title

```python
x = 1
```

Text.

```bash
exit 1
```

<!-- doc-test: skip (needs a GPU) -->

```python
raise SystemExit("never run")
```

  ```py
  y = x + 1
  ```

~~~python
z = "```"
~~~
'''


def test_extractor_finds_blocks_markers_and_languages():
    blocks = extract_blocks(_SAMPLE)
    assert [(b[0], b[1], b[3]) for b in blocks] == [
        (3, "python", None), (9, "bash", None), (15, "python", "needs a GPU"), (19, "py", None), (23, "python", None)]
    assert blocks[3][2] == "y = x + 1\n" and blocks[4][2] == 'z = "```"\n'


def test_runner_shares_a_namespace_and_honours_skips(tmp_path, doc_sandbox):
    p = tmp_path / "sample.md"
    p.write_text(_SAMPLE)
    ns = {}
    assert run_blocks(p, ns) == []
    assert (ns["x"], ns["y"], ns["z"]) == (1, 2, "```")


def test_runner_reports_the_failing_block(tmp_path, doc_sandbox):
    p = tmp_path / "bad.md"
    p.write_text("```python\nx = 1\n```\n\n```python\nundefined_name\n```\n")
    with pytest.raises(AssertionError, match=r"bad.md:5 fails: NameError"):
        run_blocks(p)
    assert [line for line, _ in run_blocks(p, keep_going=True)] == [5]


def test_malformed_markers_and_fences_are_errors():
    with pytest.raises(ValueError, match="skip marker"):
        extract_blocks("<!-- doc-test: skip -->\n```python\nx\n```\n")
    with pytest.raises(ValueError, match="never closed"):
        extract_blocks("```python\nx = 1\n")


def test_unclosed_fence_names_the_file(tmp_path):
    p = tmp_path / "open.md"
    p.write_text("text\n\n```bash\n$ advgame solve x.npz\n``` and more text\n")
    with pytest.raises(ValueError, match=r"open.md: line 3: code block never closed"):
        python_blocks(p)


def test_doc_blocks_run_in_a_temporary_folder(doc_sandbox):
    assert Path.cwd() == doc_sandbox and os.environ["MPLBACKEND"] == "Agg"
