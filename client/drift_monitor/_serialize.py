"""Turn detector output (numpy, pandas, dates, ...) into the JSON the server stores.

Conversions:

==============================  ===============================================
numpy scalar / array            Python number / nested list
pandas Series                   ``{str(index): value}``
pandas DataFrame                list of row records ``[{column: value}, ...]``
pandas / datetime Timestamp     ISO 8601 string (``date``, ``time`` too)
Decimal                         float
UUID, Path, Enum                str / the enum's value
set, frozenset, tuple           list (sets sorted when possible)
dict keys                       str; int, float, bool, UUID, Enum keys are converted
==============================  ===============================================

NaN, +-Infinity, ``pd.NA`` and ``NaT`` raise ``ValueError`` naming the key path: the server refuses
them (they are not JSON), and a silent ``null`` would hide a broken statistic. Replace them
yourself (e.g. ``None``) if missing values are expected. Anything else unconvertible raises
``ValueError`` naming the key path as well.

numpy and pandas are never imported here: they are recognised only when the caller has
already imported them.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import sys
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

__all__ = ["MAX_DEPTH", "to_json"]

#: The server refuses parameters nested deeper than this.
MAX_DEPTH = 32


def to_json(value: Any, path: str = "parameters") -> Any:
    """A JSON-compatible copy of ``value``; ``ValueError`` names the path of what cannot be converted."""
    return _convert(value, path, 1)


def _non_finite(path: str, value: Any) -> ValueError:
    return ValueError(
        f"{path} is {value!r}: NaN, Infinity and missing values cannot be sent "
        "(they are not valid JSON); replace them, e.g. with None"
    )


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        return _key(key.value, path)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(key, numpy.generic):
        key = key.item()
    if isinstance(key, (bool, int, float, uuid.UUID, Decimal)):
        return str(key)
    raise ValueError(f"{path} has a key {key!r} of type {type(key).__name__}; JSON object keys must be strings")


def _convert(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path} is nested deeper than {MAX_DEPTH} levels (or refers to itself)")
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _non_finite(path, value)
        return value

    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if value is pandas.NaT or value is pandas.NA:
            raise _non_finite(path, value)
        if isinstance(value, pandas.DataFrame):
            records = value.to_dict(orient="records")
            return [_convert(record, f"{path}[{index}]", depth + 1) for index, record in enumerate(records)]
        if isinstance(value, pandas.Series):
            return _convert(value.to_dict(), path, depth)
        if isinstance(value, pandas.Timestamp):
            return value.isoformat()
        if isinstance(value, pandas.Timedelta):
            return value.total_seconds()
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return _convert(value.tolist(), path, depth)
        if isinstance(value, numpy.datetime64):
            if numpy.isnat(value):
                raise _non_finite(path, value)
            return str(value)
        if isinstance(value, numpy.generic):
            return _convert(value.item(), path, depth)

    if isinstance(value, Mapping):
        result = {}
        for key, child in value.items():
            name = _key(key, path)
            result[name] = _convert(child, f"{path}.{name}", depth + 1)
        return result
    if isinstance(value, (list, tuple)):
        return [_convert(child, f"{path}[{index}]", depth + 1) for index, child in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        try:
            items = sorted(value)
        except TypeError:
            items = list(value)
        return [_convert(child, f"{path}[{index}]", depth + 1) for index, child in enumerate(items)]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _non_finite(path, value)
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, enum.Enum):
        return _convert(value.value, path, depth)
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    raise ValueError(
        f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be sent as JSON; "
        "convert it to numbers, strings, lists or dicts"
    )
