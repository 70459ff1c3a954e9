"""The detector's configuration: a YAML file, environment variables and command-line options, validated.

Precedence: command-line option > environment variable > configuration file > the project's stored
configuration (at run time) > default. Every problem is reported at once, each with its key.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .config_keys import (
    CONCEPT_METRICS,
    DEFAULTS,
    ENVIRONMENT,
    KEYS,
    PROFILE_KEYS,
    Checker,
    environment_value,
    parse_moment,
)
from .errors import ConfigError
from .registry import BUILT_IN

__all__ = [
    "CONCEPT_METRICS",
    "ENVIRONMENT",
    "PROFILE_KEYS",
    "Config",
    "ConceptSettings",
    "FeatureSettings",
    "SourceSettings",
    "apply_overrides",
    "environment_overrides",
    "parse_moment",
    "read_config_file",
]

_DEFAULT_METRIC = {"classification": "accuracy", "regression": "mae"}


def _default(name: str) -> Any:
    """The declared default of a key, as a dataclass default (mutable ones copied for every instance)."""
    value = DEFAULTS[name]
    if isinstance(value, (dict, list)):
        return field(default_factory=lambda: copy.deepcopy(value))
    return value


@dataclass(frozen=True)
class SourceSettings:
    """Where data comes from: a file path or URL (CSV, Parquet), a MongoDB URL, or an SQLAlchemy URL."""

    url: str
    format: str | None = None
    database: str | None = None
    collection: str | None = None
    filter: dict = field(default_factory=dict)
    query: str | None = None
    table: str | None = None
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        values = {"url": self.url, "format": self.format, "database": self.database, "collection": self.collection,
                  "filter": self.filter or None, "query": self.query, "table": self.table,
                  "options": self.options or None}
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class FeatureSettings:
    name: str
    type: str | None = None  # numeric | categorical; None: from the reference column's dtype
    test: str | None = None  # None: the default test of its type
    threshold: float | None = None  # distance tests only; None: the default of the test


@dataclass(frozen=True)
class ConceptSettings:
    metric: str | None = None  # None: accuracy (classification) or mae (regression)
    positive_label: str | None = None  # F1 of this class; None: macro F1
    confidence: float = _default("concept.confidence")
    bootstrap: int = _default("concept.bootstrap")
    tolerance: float = _default("concept.tolerance")
    seed: int = _default("concept.seed")


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``raw`` is the mapping it came from (what is stored and given to plug-ins)."""

    project: str | None = None
    artifacts: str = _default("artifacts")
    storage_options: dict = _default("storage_options")
    experiment: str | None = None
    # An experiment someone shared with you is reported to by id: names only resolve to your own.
    experiment_id: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = _default("tags")
    reference: SourceSettings | None = None
    current: SourceSettings | None = None
    timestamp_column: str | None = None
    since: str | None = None
    until: str | None = None
    features: tuple[FeatureSettings, ...] | None = None
    ignore: tuple[str, ...] = _default("ignore")
    label: str | None = None
    prediction: str | None = None
    task: str | None = None
    tests: dict = _default("tests")
    thresholds: dict = _default("thresholds")
    alpha: float = _default("alpha")
    correction: str = _default("correction")
    drift_share_threshold: float = _default("drift_share_threshold")
    bins: int = _default("profile.bins")
    sample_size: int = _default("profile.sample_size")
    max_categories: int = _default("profile.max_categories")
    seed: int = _default("profile.seed")
    concept: ConceptSettings = field(default_factory=ConceptSettings)
    detector: str | None = None
    detector_options: dict = _default("detector_options")
    report: bool = _default("report")
    interval: float = _default("interval")
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    # Derived values ----------------------------------------------------------------------

    @property
    def experiment_name(self) -> str | None:
        return self.experiment or self.project

    @property
    def model_name(self) -> str | None:
        return self.model or self.project

    def require_project(self) -> str:
        if not self.project:
            raise ConfigError("no project: pass --project NAME, set DETECTOR_PROJECT or `project:` in the config")
        return self.project

    def test_for(self, name: str, kind: str) -> str:
        spec = self.feature(name)
        return (spec.test if spec and spec.test else None) or self.tests[kind]

    def threshold_for(self, name: str, test: str) -> float:
        spec = self.feature(name)
        if spec and spec.threshold is not None:
            return spec.threshold
        return self.alpha if BUILT_IN.get(test).gives_p_value else float(self.thresholds[test])

    def feature(self, name: str) -> FeatureSettings | None:
        for spec in self.features or ():
            if spec.name == name:
                return spec
        return None

    # Building ----------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Config:
        """Validate a configuration mapping (YAML shape); ConfigError lists every problem."""
        data = copy.deepcopy(dict(data or {}))
        problems: list[str] = []
        checker = Checker(problems)
        known = {declared.name for declared in KEYS if not declared.section}
        for key in sorted(set(data) - known):
            problems.append(f"{key}: unknown key (known: {', '.join(sorted(known))})")

        # Every key as declared, in order (a later check may read an earlier value: concept.metric the task).
        values: dict[str, Any] = {}
        concept: dict[str, Any] = {}
        groups: dict[str, Mapping] = {}
        for declared in KEYS:
            if declared.group:
                groups[declared.name] = declared.check(checker, data, declared, values)
            elif declared.section:
                value = declared.check(checker, groups[declared.section], declared, values)
                (concept if declared.section == "concept" else values)[declared.leaf] = value
            else:
                values[declared.name] = declared.check(checker, data, declared, values)
        values["concept"] = ConceptSettings(**concept)

        # Columns must not be used twice.
        special = [name for name in (values["label"], values["prediction"], values["timestamp_column"]) if name]
        if len(special) != len(set(special)):
            problems.append("label, prediction and timestamp_column must be different columns")
        for spec in values["features"] or ():
            if spec.name in special:
                problems.append(f"features.{spec.name}: is also the label, prediction or timestamp column")
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return cls(**values, raw=_clean(data))

    def to_dict(self) -> dict:
        """The configuration as given (YAML shape), without empty values."""
        return copy.deepcopy(self.raw)


# --------------------------------------------------------------------------------------
# Layers: file, environment, command line
# --------------------------------------------------------------------------------------


def read_config_file(path: str) -> dict:
    """The mapping in a YAML configuration file (a local path or an fsspec URL)."""
    import fsspec

    try:
        with fsspec.open(path, "r", encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"configuration file {path} is not valid YAML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping of keys, not {type(data).__name__}")
    return data


def environment_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Configuration keys (dotted) set by DETECTOR_* variables; empty values are ignored."""
    environ = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    for variable, key in ENVIRONMENT.items():
        value = environ.get(variable)
        if value in (None, ""):
            continue
        overrides[key] = environment_value(variable, value)
    return overrides


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """A copy of ``data`` with dotted keys set (None values skipped); a source given as a string
    keeps its other keys (query, filter, ...) and gets the new url."""
    result = copy.deepcopy(dict(data))
    for dotted, value in overrides.items():
        if value is None:
            continue
        *parents, last = dotted.split(".")
        node = result
        for name in parents:
            child = node.get(name)
            if isinstance(child, str):
                child = {"url": child}
            if not isinstance(child, dict):
                child = {}
            node[name] = child
            node = child
        node[last] = value
    return result


def default_metric(task: str) -> str:
    return _DEFAULT_METRIC[task]


def _clean(data: Any) -> Any:
    """Drop None values (so a stored configuration only says what was set)."""
    if isinstance(data, Mapping):
        return {str(key): _clean(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [_clean(item) for item in data]
    if isinstance(data, (dt.datetime, dt.date)):
        return data.isoformat()
    return data
