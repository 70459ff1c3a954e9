"""Every configuration key, declared once: name, type (its check), default, environment variable, help.

``config.Config.from_mapping`` checks a mapping key by key from ``KEYS``; the environment
overrides (``ENVIRONMENT``), the keys a run may not change (``PROFILE_KEYS``), the credentials
masked in the stored copy and the command line's overrides and help are all read from here. A
nested key is written with a dot (``profile.bins``) and checked inside its group's mapping.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .registry import BUILT_IN, KINDS

__all__ = ["CONCEPT_METRICS", "DEFAULTS", "ENVIRONMENT", "KEYS", "PROFILE_KEYS", "Checker", "Key", "environment_value",
           "key", "parse_moment"]

#: Metric → (task, higher is better).
CONCEPT_METRICS = {"accuracy": ("classification", True), "f1": ("classification", True),
                   "mae": ("regression", False), "rmse": ("regression", False)}
_CORRECTION_ALIASES = {"bh": "benjamini-hochberg", "fdr_bh": "benjamini-hochberg", "fdr": "benjamini-hochberg",
                       "benjamini-hochberg": "benjamini-hochberg", "bonferroni": "bonferroni", "none": "none"}
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PLUGIN_SPEC = re.compile(r"^[\w.]+:[\w.]+$")
_SOURCE_KEYS = ("url", "format", "database", "collection", "filter", "query", "table", "options")
_FORMATS = ("csv", "parquet")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

#: check(checker, the mapping holding the key, the key, the values checked so far) → the value.
Check = Callable[["Checker", Mapping, "Key", dict], Any]


@dataclass(frozen=True)
class Key:
    """One configuration key. ``secret``: how the stored copy masks it ("url": a URL or a source
    mapping; "options": credential-named values at any depth)."""

    name: str
    check: Check
    default: Any = None
    help: str = ""
    env: str | None = None
    env_key: str | None = None  # the dotted key the variable (and the command-line option) sets; default name
    env_parse: Callable[[str], Any] | None = None
    option: str | None = None  # the command-line option setting it (its argparse dest is the key's name)
    shapes_profile: bool = False  # only a new `detector fit` may change it
    secret: str | None = None
    group: tuple[str, ...] = ()  # a mapping of these sub-keys (declared as name.sub)

    @property
    def section(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def leaf(self) -> str:
        return self.name.rpartition(".")[2]

    @property
    def target(self) -> str:
        return self.env_key or self.name

    def cli_help(self, text: str | None = None) -> str:
        """Help of the command-line option: ``text`` (default: the key's help), its variable and default."""
        notes = [self.env] if self.env else []
        if isinstance(self.default, (str, int, float)) and not isinstance(self.default, bool):
            notes.append(f"default {self.default}")
        return f"{text or self.help} ({'; '.join(notes)})" if notes else (text or self.help)


# --------------------------------------------------------------------------------------
# Checks: each reads one key of a mapping, appends its problems and returns the value to use
# --------------------------------------------------------------------------------------


class Checker:
    """Collects problems; each method returns a usable value (the default) when the given one is wrong."""

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

    def mapping(self, data: Mapping, key: str, hint: str = "") -> dict:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            self.problems.append(f"{key}: must be a mapping{hint}")
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


def _text(pattern: re.Pattern | None = None, rule: str = "") -> Check:
    def check(checker: Checker, data: Mapping, key: Key, values: dict) -> str | None:
        value = checker.text(data, key.leaf, label=key.name) or key.default
        if value is not None and pattern is not None and not pattern.match(value):
            checker.problems.append(f"{key.name}: {value!r} {rule}")
        return value

    return check


def _choice(*choices: str) -> Check:
    def check(checker: Checker, data: Mapping, key: Key, values: dict) -> str | None:
        value = checker.text(data, key.leaf, label=key.name)
        if value is not None and value not in choices:
            checker.problems.append(f"{key.name}: must be {' or '.join(choices)}, not {value!r}")
        return value

    return check


def _moment(allow_last: bool = False) -> Check:
    def check(checker: Checker, data: Mapping, key: Key, values: dict) -> str | None:
        text = checker.text(data, key.leaf, label=key.name)
        if text is not None:
            try:
                parse_moment(text, allow_last=allow_last)
            except ConfigError as error:
                checker.problems.append(f"{key.name}: {error}")
        return text

    return check


def _names(checker: Checker, data: Mapping, key: Key, values: dict) -> tuple[str, ...]:
    return tuple(checker.names(data, key.leaf, default=list(key.default)))


def _mapping(hint: str = "") -> Check:
    return lambda checker, data, key, values: checker.mapping(data, key.leaf, hint)


def _number(minimum: float | None = None, maximum: float | None = None, exclusive: bool = False) -> Check:
    return lambda checker, data, key, values: checker.number(data, key.leaf, default=key.default, minimum=minimum,
                                                             maximum=maximum, exclusive=exclusive, label=key.name)


def _integer(minimum: int) -> Check:
    return lambda checker, data, key, values: checker.integer(data, key.leaf, default=key.default, minimum=minimum,
                                                              label=key.name)


def _boolean(checker: Checker, data: Mapping, key: Key, values: dict) -> bool:
    return checker.boolean(data, key.leaf, default=key.default)


def _group(checker: Checker, data: Mapping, key: Key, values: dict) -> dict:
    """A mapping of the key's sub-keys; empty (all defaults) when not given."""
    value = data.get(key.leaf) or {}
    if not isinstance(value, Mapping):
        checker.problems.append(f"{key.name}: must be a mapping of {', '.join(key.group)}")
        return {}
    for unknown in sorted(set(value) - set(key.group)):
        checker.problems.append(f"{key.name}.{unknown}: unknown key ({', '.join(key.group)})")
    return dict(value)


def _source(checker: Checker, data: Mapping, key: Key, values: dict):
    """A path or URL, or a mapping {url, format, database, collection, filter, query, table, options}."""
    from .config import SourceSettings

    problems, name = checker.problems, key.name
    value = data.get(key.leaf)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return SourceSettings(url=value)
    if not isinstance(value, Mapping):
        problems.append(f"{name}: must be a path or URL, or a mapping with url (and query, collection, filter, ...)")
        return None
    for unknown in sorted(set(value) - set(_SOURCE_KEYS)):
        problems.append(f"{name}.{unknown}: unknown key (known: {', '.join(_SOURCE_KEYS)})")
    url = value.get("url")
    if not url:
        problems.append(f"{name}.url: missing (a file path or URL, mongodb://..., or an SQLAlchemy URL)")
        return None
    fmt = value.get("format")
    if fmt is not None and str(fmt).lower() not in _FORMATS:
        problems.append(f"{name}.format: {fmt!r} is not one of {', '.join(_FORMATS)}")
    for mapping_key in ("filter", "options"):
        if value.get(mapping_key) is not None and not isinstance(value[mapping_key], Mapping):
            problems.append(f"{name}.{mapping_key}: must be a mapping")
    if value.get("query") and value.get("table"):
        problems.append(f"{name}: give either query or table, not both")
    return SourceSettings(
        url=str(url), format=str(fmt).lower() if fmt else None,
        database=value.get("database"), collection=value.get("collection"),
        filter=dict(value.get("filter") or {}) if isinstance(value.get("filter"), Mapping) else {},
        query=value.get("query"), table=value.get("table"),
        options=dict(value.get("options") or {}) if isinstance(value.get("options"), Mapping) else {},
    )


def _tests_for(kind: str) -> str:
    return ", ".join(BUILT_IN.names(kind))


def _features(checker: Checker, data: Mapping, key: Key, values: dict):
    """A list of names, or a mapping name → {type, test, threshold} (or name → test)."""
    from .config import FeatureSettings

    problems, value = checker.problems, data.get(key.leaf)
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
        if kind is not None and kind not in KINDS:
            problems.append(f"{label}.type: must be numeric or categorical, not {kind!r}")
            kind = None
        test = None
        if options.get("test") is not None:
            found = BUILT_IN.column_test(options["test"])
            test = found.name if found else None
            if found is None:
                problems.append(f"{label}.test: {options['test']!r} is not one of {', '.join(BUILT_IN.names())}")
            elif kind is not None and not found.applies_to(kind):
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


def _tests(checker: Checker, data: Mapping, key: Key, values: dict) -> dict:
    tests = data.get(key.leaf) or {}
    if not isinstance(tests, Mapping):
        checker.problems.append("tests: must be a mapping like {numeric: ks, categorical: chi2}")
        tests = {}
    resolved = dict(key.default)
    for kind, test in tests.items():
        if kind not in resolved:
            checker.problems.append(f"tests.{kind}: unknown feature type (numeric or categorical)")
            continue
        found = BUILT_IN.column_test(test, kind)
        if found is None:
            checker.problems.append(f"tests.{kind}: {test!r} is not a {kind} test ({_tests_for(kind)})")
            continue
        resolved[kind] = found.name
    return resolved


def _thresholds(checker: Checker, data: Mapping, key: Key, values: dict) -> dict:
    thresholds = dict(key.default)
    given = data.get(key.leaf) or {}
    if not isinstance(given, Mapping):
        checker.problems.append("thresholds: must be a mapping like {psi: 0.2}")
        given = {}
    for test, value in given.items():
        found = BUILT_IN.column_test(test)
        if found is None or found.name not in thresholds:
            checker.problems.append(f"thresholds.{test}: only {', '.join(thresholds)} have thresholds "
                                    "(the p-value tests use alpha)")
            continue
        number = checker.number({"v": value}, "v", label=f"thresholds.{test}", minimum=0.0)
        if number is not None:
            thresholds[found.name] = number
    return thresholds


def _correction(checker: Checker, data: Mapping, key: Key, values: dict) -> str:
    correction = data.get(key.leaf, key.default)
    if str(correction).lower() not in _CORRECTION_ALIASES:
        checker.problems.append(f"correction: {correction!r} is not one of benjamini-hochberg, bonferroni, none")
    return _CORRECTION_ALIASES.get(str(correction).lower(), key.default)


def _metric(checker: Checker, data: Mapping, key: Key, values: dict) -> str | None:
    metric = data.get(key.leaf)
    if metric is None:
        return None
    metric, task = str(metric).lower(), values.get("task")
    if metric not in CONCEPT_METRICS:
        checker.problems.append(f"{key.name}: {metric!r} is not one of {', '.join(CONCEPT_METRICS)}")
        return None
    if task is not None and CONCEPT_METRICS[metric][0] != task:
        checker.problems.append(f"{key.name}: {metric} is a {CONCEPT_METRICS[metric][0]} metric but task is {task}")
    return metric


def _label(checker: Checker, data: Mapping, key: Key, values: dict) -> str | None:
    value = data.get(key.leaf)
    return None if value is None else str(value)


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# --------------------------------------------------------------------------------------
# The keys, in the order of the README's listing
# --------------------------------------------------------------------------------------

_PROFILE = ("bins", "sample_size", "max_categories", "seed")
_CONCEPT = ("metric", "positive_label", "confidence", "bootstrap", "tolerance", "seed")

KEYS: tuple[Key, ...] = (
    Key("project", _text(_PROJECT_NAME, "must be letters, digits, '.', '_' or '-' (it names a folder)"),
        help="project name", env="DETECTOR_PROJECT", option="--project"),
    Key("artifacts", _text(), default="artifacts", env="DETECTOR_ARTIFACTS", option="--artifacts", secret="url",
        help="where projects are stored: a folder or fsspec URL such as s3://bucket/prefix"),
    Key("storage_options", _mapping(), default={}, secret="options", help="passed to fsspec"),
    Key("experiment", _text(), env="DETECTOR_EXPERIMENT", option="--experiment",
        help="experiment to report to (default: the project)"),
    # An experiment someone shared with you is reported to by id: names only resolve to your own.
    Key("experiment_id", _text(), env="DETECTOR_EXPERIMENT_ID", option="--experiment-id",
        help="report to this experiment id instead, e.g. one shared with you: names only match your own "
             "experiments"),
    Key("model", _text(), env="DETECTOR_MODEL", option="--model", help="model name of the run (default: the project)"),
    Key("tags", _names, default=("detector",), env="DETECTOR_TAGS", env_parse=_comma_list, option="--tag",
        help="tag of the run, repeatable (comma-separated in the variable)"),
    Key("reference", _source, env="DETECTOR_REFERENCE", env_key="reference.url", option="--reference", secret="url",
        help="reference data: file, URL, mongodb://... or SQLAlchemy URL"),
    Key("current", _source, env="DETECTOR_CURRENT", env_key="current.url", option="--current", secret="url",
        help="the batch to test"),
    Key("timestamp_column", _text(), env="DETECTOR_TIMESTAMP_COLUMN", help="needed for since/until"),
    Key("since", _moment(allow_last=True), env="DETECTOR_SINCE", option="--since",
        help='only rows at or after this time (ISO 8601), or "last": where the last completed run\'s window ended'),
    Key("until", _moment(), env="DETECTOR_UNTIL", option="--until", help="only rows before this time"),
    Key("features", _features, shapes_profile=True, help="null: every column except label, prediction, "
        "timestamp and ignore; or a list of names; or name: {type, test, threshold}"),
    Key("ignore", _names, default=(), shapes_profile=True, help="columns that are never features"),
    Key("label", _text(), shapes_profile=True, help="true outcome column (concept drift)"),
    Key("prediction", _text(), shapes_profile=True, help="model output column (concept drift)"),
    Key("task", _choice("classification", "regression"), shapes_profile=True, help="classification | regression"),
    Key("tests", _tests, default={"numeric": "ks", "categorical": "chi2"}, help="the test of each feature type"),
    Key("thresholds", _thresholds, default=BUILT_IN.default_thresholds(), help="of the distance tests"),
    Key("alpha", _number(0.0, 1.0, exclusive=True), default=0.05, help="level of the p-value tests, after correction"),
    Key("correction", _correction, default="benjamini-hochberg", help="benjamini-hochberg | bonferroni | none"),
    Key("drift_share_threshold", _number(0.0, 1.0), default=0.25,
        help="the batch drifts when this share of its features drifted"),
    Key("profile", _group, group=_PROFILE, shapes_profile=True, help="how the reference is profiled"),
    Key("profile.bins", _integer(2), default=10, help="quantile bins of numeric features (PSI, Jensen–Shannon)"),
    Key("profile.sample_size", _integer(10), default=10_000,
        help="sorted sample per numeric feature; rows in reference_sample.parquet"),
    Key("profile.max_categories", _integer(2), default=100, help="categories kept per categorical feature"),
    Key("profile.seed", _integer(0), default=0, help="of the samples"),
    Key("concept", _group, group=_CONCEPT, help="concept drift"),
    Key("concept.metric", _metric, help="accuracy | f1 | mae | rmse (default: accuracy or mae)"),
    Key("concept.positive_label", _label, help="F1 of this class; null: macro F1"),
    Key("concept.confidence", _number(0.0, 1.0, exclusive=True), default=0.95, help="of the bootstrap interval"),
    Key("concept.bootstrap", _integer(100), default=1000, help="replicates (at least 100)"),
    Key("concept.tolerance", _number(0.0), default=0.0, help="a change smaller than this is not drift"),
    Key("concept.seed", _integer(0), default=0, help="of the bootstrap"),
    Key("detector", _text(_PLUGIN_SPEC, "must look like package.module:function"), env="DETECTOR_PLUGIN",
        option="--detector", help="a plug-in detector instead of the built-in tests"),
    Key("detector_options", _mapping(" (given to the plug-in detector)"), default={}, secret="options",
        help="handed to the plug-in in config['detector_options']"),
    Key("report", _boolean, default=True, env="DETECTOR_REPORT", help="false: send nothing, print the result"),
    Key("interval", _number(0.0), default=0.0, env="DETECTOR_INTERVAL", option="--interval",
        help="run again every SECONDS until SIGTERM/SIGINT (0: once)"),
)

_BY_NAME = {declared.name: declared for declared in KEYS}
if len(_BY_NAME) != len(KEYS):  # pragma: no cover - a declaration mistake, caught on import
    raise RuntimeError("a configuration key is declared twice")

#: Key → its default (dotted names for nested keys).
DEFAULTS = {declared.name: declared.default for declared in KEYS}
#: Environment variable → configuration key (dots are nesting); DETECTOR_CONFIG names the file.
ENVIRONMENT = {declared.env: declared.target for declared in KEYS if declared.env}
#: Keys that shape the fitted profile: a run cannot change them, only a new `fit` can.
PROFILE_KEYS = tuple(declared.name for declared in KEYS if declared.shapes_profile and not declared.section)


def key(name: str) -> Key:
    """The declaration of a key (dotted for nested keys)."""
    return _BY_NAME[name]


def environment_value(variable: str, text: str) -> Any:
    """The configuration value of a DETECTOR_* variable's text."""
    declared = next(declared for declared in KEYS if declared.env == variable)
    return declared.env_parse(text) if declared.env_parse else text


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
