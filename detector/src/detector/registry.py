"""The drift tests a run can use, built-in and plug-in, in one registry looked up by name or alias.

A **column test** compares one feature's current values with its reference profile. It declares
its name and aliases, the feature kinds it applies to, whether it gives a p-value (corrected for
multiple testing and compared with ``alpha``) or a distance (compared with its threshold), its
default threshold, and ``compute``: a function of a list of prepared ``Column``\\ s, one result
``{statistic, p_value, ...}`` per column. It gets every column of the batch that uses it at once, so
the binned and categorical statistics stay one vectorised expression over a count matrix.

A **batch test** is a plug-in detector (see ``plugins``): one function of the reference row sample
and the whole current batch that decides drift itself. It is registered only when the operator's
configuration names it (``detector: package.module:function``), never discovered from installed
packages, so installing a package cannot change what a run executes.

``BUILT_IN`` holds the built-in column tests and is never changed; ``registry_for(config)`` is a
copy with the configured plug-in added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import statistics
from .errors import ConfigError

__all__ = ["BUILT_IN", "KINDS", "BatchTest", "Column", "ColumnTest", "Registry", "registry_for"]

KINDS = ("numeric", "categorical")
#: What a column test's statistic is compared with.
P_VALUE, DISTANCE = "p_value", "distance"


@dataclass(frozen=True)
class Column:
    """One feature ready to be tested: its reference profile and its current values in the same shape.

    Numeric: ``reference`` is the profile's sorted sample, ``current`` the finite current values,
    sorted. Categorical: ``reference_counts`` / ``current_counts`` count the profile's categories
    plus OTHER, and ``contingency`` is the chi-squared (statistic, p-value, df) of those counts,
    computed for every categorical feature anyway because Cramér's V (its effect size) needs it.
    """

    name: str
    kind: str
    profile: Mapping[str, Any]
    reference: np.ndarray | None = None
    current: np.ndarray | None = None
    scale: float | None = None  # numeric: what the Wasserstein distance is divided by
    reference_counts: list | None = None
    current_counts: list | None = None
    contingency: tuple[float, float, int] | None = None

    def counts(self) -> tuple[Sequence[float], np.ndarray]:
        """(reference, current) counts over the reference's quantile bins (numeric) or categories."""
        if self.kind == "numeric":
            edges = np.asarray(self.profile["bin_edges"], dtype=float)
            return self.profile["bin_counts"], statistics.bin_counts(self.current, edges)
        return self.reference_counts, np.asarray(self.current_counts)


@dataclass(frozen=True)
class ColumnTest:
    """A per-feature drift test (see the module docstring)."""

    name: str
    kinds: tuple[str, ...]
    result: str  # P_VALUE or DISTANCE
    compute: Callable[[Sequence[Column]], list[dict]]
    default_threshold: float | None = None  # distances only: p-values are compared with alpha
    aliases: tuple[str, ...] = ()
    description: str = ""
    origin: str = "built-in"

    def __post_init__(self):
        unknown = set(self.kinds) - set(KINDS)
        if not self.kinds or unknown:
            raise ConfigError(f"drift test {self.name!r}: kinds must be some of {', '.join(KINDS)}, not {self.kinds}")
        if self.result not in (P_VALUE, DISTANCE):
            raise ConfigError(f"drift test {self.name!r}: result must be {P_VALUE} or {DISTANCE}, not {self.result!r}")
        if self.result == DISTANCE and self.default_threshold is None:
            raise ConfigError(f"drift test {self.name!r}: a distance needs a default threshold")

    @property
    def gives_p_value(self) -> bool:
        return self.result == P_VALUE

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds


@dataclass(frozen=True)
class BatchTest:
    """A plug-in detector: ``function(reference_sample, current, config) -> (detected, parameters)``.

    It replaces the column tests for data drift; ``PluginError`` if it breaks that contract.
    """

    name: str  # the configured package.module:function
    function: Callable[[pd.DataFrame, pd.DataFrame, dict], Any]
    aliases: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    origin: str = "plug-in"

    def __call__(self, reference: pd.DataFrame, current: pd.DataFrame, config: Mapping[str, Any]) -> tuple[bool, dict]:
        from .plugins import call_plugin

        return call_plugin(self.function, reference, current, config)


DriftTest = ColumnTest | BatchTest


@dataclass
class Registry:
    """Drift tests by name; names and aliases are case-insensitive and must not be taken twice."""

    _tests: dict[str, DriftTest] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)  # name or alias (lower case) → name

    def register(self, test: DriftTest) -> DriftTest:
        keys = [test.name.strip().lower(), *(alias.strip().lower() for alias in test.aliases)]
        for key in keys:
            if key in self._names:
                raise ConfigError(f"drift test {test.name!r}: the name {key!r} is already taken by "
                                  f"{self._names[key]!r}")
        if len(set(keys)) != len(keys):
            raise ConfigError(f"drift test {test.name!r}: a name or alias is given twice")
        self._tests[test.name] = test
        self._names.update(dict.fromkeys(keys, test.name))
        return test

    def copy(self) -> Registry:
        return Registry(dict(self._tests), dict(self._names))

    def find(self, name: Any) -> DriftTest | None:
        """The test of this name or alias, None if there is none."""
        canonical = self._names.get(str(name).strip().lower())
        return None if canonical is None else self._tests[canonical]

    def get(self, name: Any) -> DriftTest:
        """The test of this name or alias; ConfigError listing the available ones otherwise."""
        test = self.find(name)
        if test is None:
            raise ConfigError(f"unknown drift test {name!r} (available: {', '.join(self._tests)})")
        return test

    def column_test(self, name: Any, kind: str | None = None) -> ColumnTest | None:
        """The column test of this name or alias (that applies to ``kind`` when given), else None."""
        test = self.find(name)
        if not isinstance(test, ColumnTest) or (kind is not None and not test.applies_to(kind)):
            return None
        return test

    def column_tests(self, kind: str | None = None) -> list[ColumnTest]:
        """The column tests, in registration order (for ``kind`` only when given)."""
        return [test for test in self._tests.values()
                if isinstance(test, ColumnTest) and (kind is None or test.applies_to(kind))]

    def names(self, kind: str | None = None) -> list[str]:
        return [test.name for test in self.column_tests(kind)]

    def default_thresholds(self) -> dict[str, float]:
        """Distance test → its default threshold."""
        return {test.name: test.default_threshold for test in self.column_tests() if test.result == DISTANCE}

    def __contains__(self, name: object) -> bool:
        return self.find(name) is not None

    def __iter__(self):
        return iter(self._tests.values())


# --------------------------------------------------------------------------------------
# The built-in column tests: adapters from prepared columns to the functions in ``statistics``
# --------------------------------------------------------------------------------------


def _ks(columns: Sequence[Column]) -> list[dict]:
    results: list[dict | None] = [None] * len(columns)
    asymptotic: list[tuple[int, float, int, int]] = []
    for index, column in enumerate(columns):
        if max(column.reference.size, column.current.size) <= statistics.EXACT_KS_MAX_N:
            statistic, p_value = statistics.ks_test(column.reference, column.current)
            results[index] = {"statistic": statistic, "p_value": p_value}
        else:  # the p-values of the large ones in one vectorised call
            asymptotic.append((index, statistics.ks_statistic(column.reference, column.current),
                               column.reference.size, column.current.size))
    if asymptotic:
        indices, statistic, m, n = zip(*asymptotic, strict=True)
        p_values = statistics.ks_p_value(np.array(statistic), np.array(m), np.array(n))
        for index, d, p in zip(indices, statistic, p_values, strict=True):
            results[index] = {"statistic": float(d), "p_value": float(p)}
    return results


def _wasserstein(columns: Sequence[Column]) -> list[dict]:
    results = []
    for column in columns:
        distance = statistics.wasserstein(column.reference, column.current)
        results.append({"statistic": distance / column.scale if column.scale > 0 else distance, "p_value": None})
    return results


def _chi2(columns: Sequence[Column]) -> list[dict]:
    return [{"statistic": float(statistic), "p_value": float(p_value), "df": int(degrees)}
            for statistic, p_value, degrees in (column.contingency for column in columns)]


def _binned(function: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Sequence[Column]], list[dict]]:
    def compute(columns: Sequence[Column]) -> list[dict]:
        counts = [column.counts() for column in columns]
        reference = statistics.pad_counts([pair[0] for pair in counts])
        current = statistics.pad_counts([pair[1] for pair in counts])
        return [{"statistic": float(value), "p_value": None} for value in function(reference, current)]

    return compute


def _built_in() -> Registry:
    registry = Registry()
    for test in (
        ColumnTest("ks", ("numeric",), P_VALUE, _ks, aliases=("kolmogorov-smirnov",),
                   description="two-sample Kolmogorov–Smirnov"),
        ColumnTest("wasserstein", ("numeric",), DISTANCE, _wasserstein, default_threshold=0.1,
                   aliases=("wasserstein_distance",),
                   description="Wasserstein-1 distance ÷ the reference's standard deviation"),
        ColumnTest("chi2", ("categorical",), P_VALUE, _chi2, aliases=("chi-squared", "chisquare"),
                   description="chi-squared test of homogeneity"),
        ColumnTest("psi", KINDS, DISTANCE, _binned(statistics.psi), default_threshold=0.2,
                   description="population stability index on the reference's quantile bins or categories"),
        ColumnTest("jensenshannon", KINDS, DISTANCE, _binned(statistics.jensen_shannon), default_threshold=0.1,
                   aliases=("js", "jensen-shannon"), description="Jensen–Shannon distance, base 2, same bins"),
    ):
        registry.register(test)
    return registry


class _ReadOnlyRegistry(Registry):
    def register(self, test: DriftTest) -> DriftTest:
        raise ConfigError("the built-in registry is read-only: register into BUILT_IN.copy() or registry_for(config)")


BUILT_IN: Registry = _ReadOnlyRegistry(**{name: value for name, value in vars(_built_in()).items()})


def registry_for(config: Any, *, plugin: Callable | None = None) -> Registry:
    """The built-in tests plus the plug-in detector the configuration names.

    Only ``config.detector`` (package.module:function) is read, so plug-ins come only from the
    operator's configuration. The plug-in is imported now (ConfigError if it cannot be), unless
    ``plugin`` is that function already loaded.
    """
    registry = BUILT_IN.copy()
    if getattr(config, "detector", None):
        if plugin is None:
            from .plugins import load_plugin

            plugin = load_plugin(config.detector)
        registry.register(BatchTest(config.detector, plugin))
    return registry
