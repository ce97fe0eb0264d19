"""Recognising torch tensors without importing torch."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_torch"]


def is_torch(x: Any) -> bool:
    """True when ``x`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)
