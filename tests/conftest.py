"""Shared fixtures: every solver test runs on numpy and, where torch is installed, on
torch CPU tensors in float64 and float32 (POT's ``test/conftest.py`` pattern)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HAS_TORCH = importlib.util.find_spec("torch") is not None


class Backend:
    """Converts numpy test data to the backend under test and back."""

    def __init__(self, name):
        self.name = name
        self.is_torch = name.startswith("torch")
        if self.is_torch:
            import torch

            self.torch = torch
            self.dtype = torch.float64 if name.endswith("64") else torch.float32
        # loose tolerance for float32 arithmetic
        self.atol = 1e-5 if name.endswith("32") else 1e-10

    def __call__(self, x):
        if x is None or not self.is_torch:
            return x
        x = np.asarray(x)
        t = self.torch.from_numpy(np.ascontiguousarray(x))
        if x.dtype.kind == "f":
            t = t.to(self.dtype)
        return t

    def np(self, x):
        if self.is_torch and hasattr(x, "detach"):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def __repr__(self):
        return self.name


_BACKENDS = ["numpy"] + (["torch64", "torch32"] if HAS_TORCH else [])


@pytest.fixture(params=_BACKENDS)
def nx(request):
    """The array library under test: ``nx(array)`` converts numpy test data."""
    return Backend(request.param)


@pytest.fixture(params=[b for b in _BACKENDS if not b.endswith("32")])
def nx64(request):
    """Like ``nx`` but float64 only (for exactness checks)."""
    return Backend(request.param)
