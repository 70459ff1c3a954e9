"""Two drift runs side by side: every value at its dotted path, with differences."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Identify a run rather than describe it; equal by construction or meaningless to compare.
SKIPPED_KEYS = frozenset({"id", "experiment_id"})


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``. Lists stay whole: their items have no stable names."""
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, child in value.items():
            flat.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value} if prefix else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def display(value: Any) -> str:
    """A cell's text: strings as they are, anything else as JSON; a missing value is empty."""
    if value is _MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


_MISSING = object()


def compare_runs(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> pd.DataFrame:
    """One row per dotted path found in either run: ``path``, ``A``, ``B``, ``difference`` (B − A, for
    two numbers) and ``changed``. Paths keep the order of run A, then what only B has."""
    flat_a = {k: v for k, v in flatten(dict(run_a)).items() if k.split(".")[0] not in SKIPPED_KEYS}
    flat_b = {k: v for k, v in flatten(dict(run_b)).items() if k.split(".")[0] not in SKIPPED_KEYS}
    paths = list(flat_a) + [path for path in flat_b if path not in flat_a]
    rows = []
    for path in paths:
        a, b = flat_a.get(path, _MISSING), flat_b.get(path, _MISSING)
        difference = b - a if _is_number(a) and _is_number(b) else math.nan
        rows.append({"path": path, "A": display(a), "B": display(b), "difference": difference,
                     # True == 1 in Python, but a flag that became a count did change.
                     "changed": a != b or isinstance(a, bool) != isinstance(b, bool)})
    return pd.DataFrame(rows, columns=["path", "A", "B", "difference", "changed"]).astype(
        {"difference": "float64", "changed": "bool"})
