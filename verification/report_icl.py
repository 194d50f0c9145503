"""Render the in-context regression tables of ``results/SYSTEMS.md`` (pure formatting)."""
from __future__ import annotations

from typing import List


def render_icl(runs: List[dict]) -> str:
    return ""
