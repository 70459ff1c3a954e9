"""Configuration keys are declared once: the defaults, the environment variables, the keys a run may
not change and the command line's options all come from the declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

import detector.cli as cli
from detector.config import Config, environment_overrides
from detector.config_keys import DEFAULTS, ENVIRONMENT, KEYS, PROFILE_KEYS, key
from detector.errors import ConfigError

README = (Path(__file__).resolve().parents[2] / "detector" / "README.md").read_text(encoding="utf-8")


def test_an_empty_configuration_gets_the_declared_defaults():
    config = Config.from_mapping({})
    assert config == Config()  # the dataclass defaults are the declared ones too
    expected = {"artifacts": "artifacts", "tags": ("detector",), "ignore": (), "alpha": 0.05,
                "correction": "benjamini-hochberg", "drift_share_threshold": 0.25, "report": True, "interval": 0.0,
                "tests": {"numeric": "ks", "categorical": "chi2"},
                "thresholds": {"wasserstein": 0.1, "psi": 0.2, "jensenshannon": 0.1},
                "bins": 10, "sample_size": 10_000, "max_categories": 100, "seed": 0}
    for name, value in expected.items():
        assert getattr(config, name) == value, name
    assert (config.concept.confidence, config.concept.bootstrap, config.concept.tolerance,
            config.concept.seed) == (0.95, 1000, 0.0, 0)
    for declared in KEYS:  # and every declared default is what a parsed configuration holds
        owner = config.concept if declared.section == "concept" else config
        if not declared.group:
            value = getattr(owner, declared.leaf)
            assert value == declared.default or (value is None and declared.default is None), declared.name


def test_mutable_defaults_are_not_shared_between_configurations():
    first, second = Config(), Config()
    first.storage_options["endpoint_url"] = "http://minio"
    first.tests["numeric"] = "psi"
    assert second.storage_options == {} and second.tests == {"numeric": "ks", "categorical": "chi2"}
    assert DEFAULTS["tests"] == {"numeric": "ks", "categorical": "chi2"}


def test_every_environment_variable_of_before_is_declared_with_its_key():
    assert ENVIRONMENT == {
        "DETECTOR_PROJECT": "project", "DETECTOR_ARTIFACTS": "artifacts", "DETECTOR_EXPERIMENT": "experiment",
        "DETECTOR_EXPERIMENT_ID": "experiment_id", "DETECTOR_MODEL": "model", "DETECTOR_TAGS": "tags",
        "DETECTOR_REFERENCE": "reference.url", "DETECTOR_CURRENT": "current.url",
        "DETECTOR_TIMESTAMP_COLUMN": "timestamp_column", "DETECTOR_SINCE": "since", "DETECTOR_UNTIL": "until",
        "DETECTOR_PLUGIN": "detector", "DETECTOR_REPORT": "report", "DETECTOR_INTERVAL": "interval"}


def test_environment_overrides_follow_the_declarations():
    environ = {"DETECTOR_TAGS": " nightly,, env ", "DETECTOR_CURRENT": "data/today.csv", "DETECTOR_REPORT": "off",
               "DETECTOR_INTERVAL": "60", "DETECTOR_PLUGIN": "", "UNRELATED": "x"}
    overrides = environment_overrides(environ)
    assert overrides == {"tags": ["nightly", "env"], "current.url": "data/today.csv", "report": "off",
                         "interval": "60"}  # empty values are ignored; text is checked by Config
    config = Config.from_mapping({"current": {"url": "old.csv", "options": {"sep": ";"}}, "tags": ["x"],
                                  **{name: value for name, value in overrides.items() if "." not in name}})
    assert config.tags == ("nightly", "env") and config.report is False and config.interval == 60.0
    with pytest.raises(ConfigError, match="interval: must be a number, not 'soon'"):
        Config.from_mapping(environment_overrides({"DETECTOR_INTERVAL": "soon"}))


def test_the_keys_a_run_cannot_change_are_the_declared_profile_keys():
    assert PROFILE_KEYS == ("features", "ignore", "label", "prediction", "task", "profile")
    assert {declared.name for declared in KEYS if declared.secret} == {"artifacts", "storage_options", "reference",
                                                                         "current", "detector_options"}


def test_group_keys_check_their_sub_keys():
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping({"profile": {"bins": 1, "colour": 2}, "concept": {"bootstrap": 10, "metric": "mae"},
                             "task": "classification"})
    message = str(raised.value)
    assert "profile.bins: must be at least 2, not 1" in message
    assert "profile.colour: unknown key (bins, sample_size, max_categories, seed)" in message
    assert "concept.bootstrap: must be at least 100, not 10" in message
    assert "concept.metric: mae is a regression metric but task is classification" in message
    with pytest.raises(ConfigError, match="concept: must be a mapping of metric, positive_label"):
        Config.from_mapping({"concept": 3})
    config = Config.from_mapping({"profile": {"seed": 7}, "concept": {"seed": 9, "positive_label": 1}})
    assert config.seed == 7 and config.concept.seed == 9 and config.concept.positive_label == "1"


def test_command_line_options_set_the_declared_keys_and_show_their_variables(capsys):
    args = cli._parser().parse_args(["run", "-p", "churn", "-i", "today.csv", "--since", "last", "--tag", "a",
                                     "--tag", "b", "--experiment-id", "e1", "--interval", "5", "--no-report"])
    assert cli._overrides(args) == {"project": "churn", "current.url": "today.csv", "since": "last",
                                    "tags": ["a", "b"], "experiment_id": "e1", "interval": 5.0, "report": False}
    assert cli._overrides(cli._parser().parse_args(["fit", "-r", "train.csv"])) == {"reference.url": "train.csv"}
    for command in ("fit", "run"):
        with pytest.raises(SystemExit):
            cli._parser().parse_args([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for declared in KEYS:
        if declared.option:
            assert declared.option in help_text and declared.env in help_text, declared.name
    assert "default artifacts" in help_text


def test_the_readme_documents_every_key_and_variable():
    for declared in KEYS:
        assert f"{declared.leaf}:" in README, declared.name
        if declared.env:
            assert f"`{declared.env}`" in README or f"{declared.env}`" in README, declared.env
    assert key("profile.bins").default == 10
