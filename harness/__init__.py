"""Soak-test background-job workers: flat memory, isolated jobs, graceful recycling, no slowdown."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"

__all__ = ["__version__"]
