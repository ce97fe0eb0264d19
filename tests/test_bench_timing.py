"""The benchmarks' one timing helper (benchmarks/_timing.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _timing  # noqa: E402


def test_round_robin_warmup_and_medians():
    calls = []
    fns = [lambda: calls.append("a"), lambda: calls.append("b")]
    out = _timing.median_times(fns, repeat=3, warmup=2)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3  # warm-ups, then interleaved repeats
    assert len(out) == 2 and all(t >= 0 for t in out)
    assert _timing.median_time(lambda: sum(range(1000)), repeat=5, clock="cpu") >= 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        _timing.median_time(lambda: None, repeat=0)
    with pytest.raises(ValueError, match="clock must be one of"):
        _timing.median_time(lambda: None, clock="gpu")
