"""The detector's configuration: a YAML file, environment variables and command-line options, validated.

Precedence: command-line option > environment variable > configuration file > the project's stored
configuration (at run time) > default. Every problem is reported at once, each with its key.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError

__all__ = [
    "CONCEPT_METRICS",
    "DEFAULT_THRESHOLDS",
    "ENVIRONMENT",
    "P_VALUE_TESTS",
    "PROFILE_KEYS",
    "TESTS",
    "Config",
    "ConceptSettings",
    "FeatureSettings",
    "SourceSettings",
    "apply_overrides",
    "environment_overrides",
    "parse_moment",
    "read_config_file",
]

#: Test name → the feature types it applies to.
TESTS = {
    "ks": ("numeric",),
    "wasserstein": ("numeric",),
    "chi2": ("categorical",),
    "psi": ("numeric", "categorical"),
    "jensenshannon": ("numeric", "categorical"),
}
_TEST_ALIASES = {"js": "jensenshannon", "jensen-shannon": "jensenshannon", "chi-squared": "chi2",
                 "chisquare": "chi2", "kolmogorov-smirnov": "ks", "wasserstein_distance": "wasserstein"}
#: Tests with a p-value, corrected for multiple testing; the others compare a distance with a threshold.
P_VALUE_TESTS = ("ks", "chi2")
DEFAULT_THRESHOLDS = {"psi": 0.2, "jensenshannon": 0.1, "wasserstein": 0.1}
_CORRECTION_ALIASES = {"bh": "benjamini-hochberg", "fdr_bh": "benjamini-hochberg", "fdr": "benjamini-hochberg",
                       "benjamini-hochberg": "benjamini-hochberg", "bonferroni": "bonferroni", "none": "none"}
#: Metric → (task, higher is better).
CONCEPT_METRICS = {"accuracy": ("classification", True), "f1": ("classification", True),
                   "mae": ("regression", False), "rmse": ("regression", False)}
_DEFAULT_METRIC = {"classification": "accuracy", "regression": "mae"}
#: Keys that shape the fitted profile: a run cannot change them, only a new `fit` can.
PROFILE_KEYS = ("features", "ignore", "label", "prediction", "task", "profile")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SOURCE_KEYS = ("url", "format", "database", "collection", "filter", "query", "table", "options")
_FORMATS = ("csv", "parquet")

#: Environment variable → configuration key (dots are nesting); DETECTOR_CONFIG names the file.
ENVIRONMENT = {
    "DETECTOR_PROJECT": "project",
    "DETECTOR_ARTIFACTS": "artifacts",
    "DETECTOR_EXPERIMENT": "experiment",
    "DETECTOR_EXPERIMENT_ID": "experiment_id",
    "DETECTOR_MODEL": "model",
    "DETECTOR_TAGS": "tags",
    "DETECTOR_REFERENCE": "reference.url",
    "DETECTOR_CURRENT": "current.url",
    "DETECTOR_TIMESTAMP_COLUMN": "timestamp_column",
    "DETECTOR_SINCE": "since",
    "DETECTOR_UNTIL": "until",
    "DETECTOR_PLUGIN": "detector",
    "DETECTOR_REPORT": "report",
    "DETECTOR_INTERVAL": "interval",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


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
    confidence: float = 0.95
    bootstrap: int = 1000
    tolerance: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``raw`` is the mapping it came from (what is stored and given to plug-ins)."""

    project: str | None = None
    artifacts: str = "artifacts"
    storage_options: dict = field(default_factory=dict)
    experiment: str | None = None
    # An experiment someone shared with you is reported to by id: names only resolve to your own.
    experiment_id: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ("detector",)
    reference: SourceSettings | None = None
    current: SourceSettings | None = None
    timestamp_column: str | None = None
    since: str | None = None
    until: str | None = None
    features: tuple[FeatureSettings, ...] | None = None
    ignore: tuple[str, ...] = ()
    label: str | None = None
    prediction: str | None = None
    task: str | None = None
    tests: dict = field(default_factory=lambda: {"numeric": "ks", "categorical": "chi2"})
    thresholds: dict = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    alpha: float = 0.05
    correction: str = "benjamini-hochberg"
    drift_share_threshold: float = 0.25
    bins: int = 10
    sample_size: int = 10_000
    max_categories: int = 100
    seed: int = 0
    concept: ConceptSettings = field(default_factory=ConceptSettings)
    detector: str | None = None
    detector_options: dict = field(default_factory=dict)
    report: bool = True
    interval: float = 0.0
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
        return self.alpha if test in P_VALUE_TESTS else float(self.thresholds[test])

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
        values: dict[str, Any] = {}
        checker = _Checker(problems)
        known = {"project", "artifacts", "storage_options", "experiment", "experiment_id", "model", "tags", "reference", "current",
                 "timestamp_column", "since", "until", "features", "ignore", "label", "prediction", "task", "tests",
                 "thresholds", "alpha", "correction", "drift_share_threshold", "profile", "concept", "detector",
                 "detector_options", "report", "interval"}
        for key in sorted(set(data) - known):
            problems.append(f"{key}: unknown key (known: {', '.join(sorted(known))})")

        project = checker.text(data, "project")
        if project is not None and not _PROJECT_NAME.match(project):
            problems.append(f"project: {project!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
        values["project"] = project
        values["artifacts"] = checker.text(data, "artifacts") or "artifacts"
        values["storage_options"] = checker.mapping(data, "storage_options")
        for key in ("experiment", "experiment_id", "model", "timestamp_column", "label", "prediction", "detector"):
            values[key] = checker.text(data, key)
        values["tags"] = tuple(checker.names(data, "tags", default=["detector"]))
        values["ignore"] = tuple(checker.names(data, "ignore", default=[]))
        values["reference"] = _source(data, "reference", problems)
        values["current"] = _source(data, "current", problems)
        for key in ("since", "until"):
            text = checker.text(data, key)
            if text is not None:
                try:
                    parse_moment(text, allow_last=(key == "since"))
                except ConfigError as error:
                    problems.append(f"{key}: {error}")
            values[key] = text

        task = checker.text(data, "task")
        if task is not None and task not in ("classification", "regression"):
            problems.append(f"task: must be classification or regression, not {task!r}")
        values["task"] = task
        values["features"] = _features(data.get("features"), problems)

        tests = data.get("tests") or {}
        if not isinstance(tests, Mapping):
            problems.append("tests: must be a mapping like {numeric: ks, categorical: chi2}")
            tests = {}
        resolved_tests = {"numeric": "ks", "categorical": "chi2"}
        for kind, test in tests.items():
            if kind not in resolved_tests:
                problems.append(f"tests.{kind}: unknown feature type (numeric or categorical)")
                continue
            name = _test_name(test)
            if name is None or kind not in TESTS[name]:
                problems.append(f"tests.{kind}: {test!r} is not a {kind} test ({_tests_for(kind)})")
                continue
            resolved_tests[kind] = name
        values["tests"] = resolved_tests

        thresholds = dict(DEFAULT_THRESHOLDS)
        given_thresholds = data.get("thresholds") or {}
        if not isinstance(given_thresholds, Mapping):
            problems.append("thresholds: must be a mapping like {psi: 0.2}")
            given_thresholds = {}
        for test, value in given_thresholds.items():
            name = _test_name(test)
            if name not in DEFAULT_THRESHOLDS:
                problems.append(f"thresholds.{test}: only {', '.join(DEFAULT_THRESHOLDS)} have thresholds "
                                "(the p-value tests use alpha)")
                continue
            number = checker.number({"v": value}, "v", label=f"thresholds.{test}", minimum=0.0)
            if number is not None:
                thresholds[name] = number
        values["thresholds"] = thresholds

        values["alpha"] = checker.number(data, "alpha", default=0.05, minimum=0.0, maximum=1.0, exclusive=True)
        correction = data.get("correction", "benjamini-hochberg")
        if str(correction).lower() not in _CORRECTION_ALIASES:
            problems.append(f"correction: {correction!r} is not one of benjamini-hochberg, bonferroni, none")
        values["correction"] = _CORRECTION_ALIASES.get(str(correction).lower(), "benjamini-hochberg")
        values["drift_share_threshold"] = checker.number(data, "drift_share_threshold", default=0.25, minimum=0.0,
                                                         maximum=1.0)

        profile = data.get("profile") or {}
        if not isinstance(profile, Mapping):
            problems.append("profile: must be a mapping of bins, sample_size, max_categories, seed")
            profile = {}
        for key in sorted(set(profile) - {"bins", "sample_size", "max_categories", "seed"}):
            problems.append(f"profile.{key}: unknown key (bins, sample_size, max_categories, seed)")
        values["bins"] = checker.integer(profile, "bins", default=10, minimum=2, label="profile.bins")
        values["sample_size"] = checker.integer(profile, "sample_size", default=10_000, minimum=10,
                                                label="profile.sample_size")
        values["max_categories"] = checker.integer(profile, "max_categories", default=100, minimum=2,
                                                   label="profile.max_categories")
        values["seed"] = checker.integer(profile, "seed", default=0, minimum=0, label="profile.seed")

        values["concept"] = _concept(data.get("concept"), task, problems)
        options = data.get("detector_options") or {}
        if not isinstance(options, Mapping):
            problems.append("detector_options: must be a mapping (given to the plug-in detector)")
            options = {}
        values["detector_options"] = dict(options)
        if values["detector"] is not None and not re.match(r"^[\w.]+:[\w.]+$", values["detector"]):
            problems.append(f"detector: {values['detector']!r} must look like package.module:function")
        values["report"] = checker.boolean(data, "report", default=True)
        values["interval"] = checker.number(data, "interval", default=0.0, minimum=0.0)

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
        if key == "tags":
            overrides[key] = [tag.strip() for tag in value.split(",") if tag.strip()]
        else:
            overrides[key] = value
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


def parse_moment(text: str | dt.datetime, *, allow_last: bool = False) -> dt.datetime | str:
    """An ISO 8601 date or time as an aware UTC datetime (no zone means UTC); "last" if allowed."""
    if isinstance(text, dt.datetime):
        moment = text
    else:
        value = str(text).strip()
        if allow_last and value.lower() == "last":
            return "last"
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            hint = ' or "last"' if allow_last else ""
            raise ConfigError(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-01-31T00:00:00Z){hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, problems: list[str]):
        self.problems = problems

    def text(self, data: Mapping, key: str, label: str | None = None) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, (dict, list)):
            self.problems.append(f"{label or key}: must be a single value, not {type(value).__name__}")
            return None
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        return str(value)

    def names(self, data: Mapping, key: str, default: list[str]) -> list[str]:
        value = data.get(key, default)
        if value is None:
            return list(default)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
            self.problems.append(f"{key}: must be a list of names")
            return list(default)
        return [str(item) for item in value]

    def mapping(self, data: Mapping, key: str) -> dict:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            self.problems.append(f"{key}: must be a mapping")
            return {}
        return dict(value)

    def number(self, data: Mapping, key: str, default: float | None = None, minimum: float | None = None,
               maximum: float | None = None, exclusive: bool = False, label: str | None = None) -> float | None:
        value = data.get(key, default)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.problems.append(f"{label or key}: must be a number, not {value!r}")
            return default
        too_low = minimum is not None and (number <= minimum if exclusive else number < minimum)
        too_high = maximum is not None and (number >= maximum if exclusive else number > maximum)
        if too_low or too_high or number != number:
            bounds = f"{'(' if exclusive else '['}{minimum}, {maximum if maximum is not None else 'inf'}" \
                     f"{')' if exclusive else ']'}"
            self.problems.append(f"{label or key}: {number} is outside {bounds}")
            return default
        return number

    def integer(self, data: Mapping, key: str, default: int, minimum: int, label: str | None = None) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
            self.problems.append(f"{label or key}: must be a whole number, not {value!r}")
            return default
        number = int(value)
        if number < minimum:
            self.problems.append(f"{label or key}: must be at least {minimum}, not {number}")
            return default
        return number

    def boolean(self, data: Mapping, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.problems.append(f"{key}: must be true or false, not {value!r}")
        return default


def _test_name(test: Any) -> str | None:
    name = str(test).strip().lower()
    name = _TEST_ALIASES.get(name, name)
    return name if name in TESTS else None


def _tests_for(kind: str) -> str:
    return ", ".join(name for name, kinds in TESTS.items() if kind in kinds)


def _source(data: Mapping, key: str, problems: list[str]) -> SourceSettings | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return SourceSettings(url=value)
    if not isinstance(value, Mapping):
        problems.append(f"{key}: must be a path or URL, or a mapping with url (and query, collection, filter, ...)")
        return None
    for unknown in sorted(set(value) - set(_SOURCE_KEYS)):
        problems.append(f"{key}.{unknown}: unknown key (known: {', '.join(_SOURCE_KEYS)})")
    url = value.get("url")
    if not url:
        problems.append(f"{key}.url: missing (a file path or URL, mongodb://..., or an SQLAlchemy URL)")
        return None
    fmt = value.get("format")
    if fmt is not None and str(fmt).lower() not in _FORMATS:
        problems.append(f"{key}.format: {fmt!r} is not one of {', '.join(_FORMATS)}")
    for mapping_key in ("filter", "options"):
        if value.get(mapping_key) is not None and not isinstance(value[mapping_key], Mapping):
            problems.append(f"{key}.{mapping_key}: must be a mapping")
    if value.get("query") and value.get("table"):
        problems.append(f"{key}: give either query or table, not both")
    return SourceSettings(
        url=str(url), format=str(fmt).lower() if fmt else None,
        database=value.get("database"), collection=value.get("collection"),
        filter=dict(value.get("filter") or {}) if isinstance(value.get("filter"), Mapping) else {},
        query=value.get("query"), table=value.get("table"),
        options=dict(value.get("options") or {}) if isinstance(value.get("options"), Mapping) else {},
    )


def _features(value: Any, problems: list[str]) -> tuple[FeatureSettings, ...] | None:
    """``features`` as a list of names, or a mapping name → {type, test, threshold} (or name → test)."""
    if value is None:
        return None
    if isinstance(value, list):
        value = {str(name): {} for name in value}
    if not isinstance(value, Mapping) or not value:
        problems.append("features: must be a list of column names or a mapping name → {type, test, threshold}")
        return None
    specs = []
    for name, options in value.items():
        label = f"features.{name}"
        if options is None:
            options = {}
        if isinstance(options, str):
            options = {"test": options}
        if not isinstance(options, Mapping):
            problems.append(f"{label}: must be a test name or a mapping of type, test, threshold")
            continue
        for unknown in sorted(set(options) - {"type", "test", "threshold"}):
            problems.append(f"{label}.{unknown}: unknown key (type, test, threshold)")
        kind = options.get("type")
        if kind is not None and kind not in ("numeric", "categorical"):
            problems.append(f"{label}.type: must be numeric or categorical, not {kind!r}")
            kind = None
        test = None
        if options.get("test") is not None:
            test = _test_name(options["test"])
            if test is None:
                problems.append(f"{label}.test: {options['test']!r} is not one of {', '.join(TESTS)}")
            elif kind is not None and kind not in TESTS[test]:
                problems.append(f"{label}.test: {test} does not apply to a {kind} feature ({_tests_for(kind)})")
        threshold = options.get("threshold")
        if threshold is not None:
            try:
                threshold = float(threshold)
            except (TypeError, ValueError):
                problems.append(f"{label}.threshold: must be a number, not {threshold!r}")
                threshold = None
        specs.append(FeatureSettings(name=str(name), type=kind, test=test, threshold=threshold))
    return tuple(specs)


def _concept(value: Any, task: str | None, problems: list[str]) -> ConceptSettings:
    if value is None:
        return ConceptSettings()
    if not isinstance(value, Mapping):
        problems.append("concept: must be a mapping of metric, positive_label, confidence, bootstrap, tolerance, seed")
        return ConceptSettings()
    known = {"metric", "positive_label", "confidence", "bootstrap", "tolerance", "seed"}
    for unknown in sorted(set(value) - known):
        problems.append(f"concept.{unknown}: unknown key ({', '.join(sorted(known))})")
    checker = _Checker(problems)
    metric = value.get("metric")
    if metric is not None:
        metric = str(metric).lower()
        if metric not in CONCEPT_METRICS:
            problems.append(f"concept.metric: {metric!r} is not one of {', '.join(CONCEPT_METRICS)}")
            metric = None
        elif task is not None and CONCEPT_METRICS[metric][0] != task:
            problems.append(f"concept.metric: {metric} is a {CONCEPT_METRICS[metric][0]} metric but task is {task}")
    positive = value.get("positive_label")
    return ConceptSettings(
        metric=metric,
        positive_label=None if positive is None else str(positive),
        confidence=checker.number(value, "confidence", default=0.95, minimum=0.0, maximum=1.0, exclusive=True,
                                  label="concept.confidence"),
        bootstrap=checker.integer(value, "bootstrap", default=1000, minimum=100, label="concept.bootstrap"),
        tolerance=checker.number(value, "tolerance", default=0.0, minimum=0.0, label="concept.tolerance"),
        seed=checker.integer(value, "seed", default=0, minimum=0, label="concept.seed"),
    )


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
