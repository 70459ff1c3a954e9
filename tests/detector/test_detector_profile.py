"""Fitting stores a compact, data-only profile with its configuration; configuration is validated and layered."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import fsspec
import numpy as np
import pytest
import yaml

import detector.cli as cli
from detector.artifacts import ArtifactStore
from detector.config import Config, apply_overrides, environment_overrides
from detector.errors import ConfigError, DataError, ProjectNotFound
from detector.runner import fit, load_run_config, resolve_window


@pytest.fixture
def artifacts():
    """A fresh in-memory artifacts location (fsspec's memory://)."""
    url = f"memory://artifacts-{uuid.uuid4().hex[:8]}"
    yield url
    memory = fsspec.filesystem("memory")
    if memory.exists(url):
        memory.rm(url, recursive=True)


def _write_reference(tmp_path, frame, name="reference.parquet"):
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    return str(path)


def test_fit_stores_configuration_profile_sample_and_index(tmp_path, artifacts, make_frame):
    reference = make_frame(30_000, seed=1)
    config = Config.from_mapping({
        "project": "churn", "artifacts": artifacts, "reference": _write_reference(tmp_path, reference),
        "label": "label", "prediction": "prediction", "timestamp_column": "ts",
        "profile": {"sample_size": 5000, "bins": 8},
    })
    summary = fit(config)
    assert summary == {"project": "churn", "artifacts": artifacts, "n_rows": 30_000, "numeric_features": 3,
                       "categorical_features": 2, "task": "classification", "sample_rows": 5000}

    fs = fsspec.filesystem("memory")
    root = artifacts.removeprefix("memory://")
    assert sorted(path.rsplit("/", 1)[-1] for path in fs.ls(f"{root}/churn", detail=False)) == [
        "configuration.yaml", "profile.json", "reference_sample.parquet"]
    for name in ("configuration.yaml", "profile.json"):
        assert not fs.cat(f"{root}/churn/{name}").startswith(b"\x80")  # text, never a pickle
    assert fs.cat(f"{root}/churn/reference_sample.parquet")[:4] == b"PAR1"

    stored = yaml.safe_load(fs.cat(f"{root}/churn/configuration.yaml"))
    assert stored["label"] == "label" and stored["profile"] == {"sample_size": 5000, "bins": 8}
    profile = json.loads(fs.cat(f"{root}/churn/profile.json"))
    assert profile["format"] == "drift-detector-profile/1" and profile["n_rows"] == 30_000
    x0 = profile["features"]["x0"]
    values = reference["x0"].to_numpy()
    assert x0["type"] == "numeric" and x0["n"] == 30_000 and x0["missing"] == 0
    assert x0["mean"] == pytest.approx(values.mean()) and x0["std"] == pytest.approx(values.std())
    assert len(x0["sample"]) == 5000 and x0["sample"] == sorted(x0["sample"])
    assert set(x0["sample"]) <= set(values.tolist())
    assert len(x0["bin_edges"]) == 7 and sum(x0["bin_counts"]) == 30_000
    assert max(x0["bin_counts"]) - min(x0["bin_counts"]) <= 2  # quantile bins: equal counts
    c0 = profile["features"]["c0"]
    assert c0["type"] == "categorical" and c0["frequencies"] == reference["c0"].value_counts().to_dict()
    assert "label" not in profile["features"] and "ts" not in profile["features"]
    assert profile["label"]["type"] == "categorical" and profile["label"]["column"] == "label"
    assert profile["performance"]["accuracy"] == pytest.approx((reference.label == reference.prediction).mean())

    sample = ArtifactStore(artifacts).load_sample("churn")
    assert len(sample) == 5000 and list(sample.columns) == ["x0", "x1", "x2", "c0", "c1", "label", "prediction", "ts"]
    entry = ArtifactStore(artifacts).index()["projects"]["churn"]
    assert entry["status"] == "fitted" and entry["n_features"] == 5 and entry["n_reference"] == 30_000


def test_categories_beyond_the_limit_are_counted_together_and_the_profile_stays_compact(tmp_path, artifacts):
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": [f"u{i}" for i in rng.integers(0, 5000, 50_000)], "x": rng.normal(size=50_000)})
    config = Config.from_mapping({"project": "ids", "artifacts": artifacts,
                                  "reference": _write_reference(tmp_path, frame), "profile": {"max_categories": 20}})
    fit(config)
    profile = ArtifactStore(artifacts).load_profile("ids")
    user = profile["features"]["user"]
    assert len(user["frequencies"]) == 20 and user["n_categories"] > 4000
    assert sum(user["frequencies"].values()) + user["other"] == 50_000
    assert len(json.dumps(profile)) < 400_000


def test_configuration_errors_are_all_listed_with_their_keys():
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping({"project": "a/b", "alpha": 2, "tests": {"numeric": "chi2"}, "colour": "red",
                             "features": {"x": {"type": "categorical", "test": "ks"}}, "correction": "holm",
                             "profile": {"bins": 1}, "concept": {"metric": "auc"}, "current": {"query": "select 1"},
                             "detector": "not a function"})
    message = str(raised.value)
    for fragment in ("project:", "alpha:", "tests.numeric:", "colour: unknown key", "features.x.test:",
                     "correction:", "profile.bins:", "concept.metric:", "current.url: missing", "detector:"):
        assert fragment in message, fragment


def test_settings_precedence_command_line_over_environment_over_file():
    file_data = {"project": "from-file", "current": {"url": "mongodb://db/shop?collection=a", "filter": {"x": 1}},
                 "tags": ["file"]}
    environment = environment_overrides({"DETECTOR_PROJECT": "from-env", "DETECTOR_CURRENT": "mongodb://db/shop?"
                                         "collection=b", "DETECTOR_TAGS": "nightly, env", "DETECTOR_REPORT": "false"})
    layered = apply_overrides(apply_overrides(file_data, environment), {"project": "from-cli"})
    config = Config.from_mapping(layered)
    assert config.project == "from-cli"
    assert config.current.url.endswith("collection=b") and config.current.filter == {"x": 1}
    assert config.tags == ("nightly", "env") and config.report is False


def test_a_run_cannot_change_what_the_profile_was_fitted_with(tmp_path, artifacts, make_frame, monkeypatch):
    reference = _write_reference(tmp_path, make_frame(500, seed=1, with_target=False))
    config_file = tmp_path / "detector.yaml"
    config_file.write_text(yaml.safe_dump({"project": "p", "artifacts": artifacts, "features": ["x0", "x1"]}))
    fit(Config.from_mapping({"project": "p", "artifacts": artifacts, "features": ["x0", "x1"],
                             "reference": reference}))
    assert load_run_config(str(config_file), {}).features[0].name == "x0"  # the same features: fine

    config_file.write_text(yaml.safe_dump({"project": "p", "artifacts": artifacts, "features": ["x0", "c0"]}))
    with pytest.raises(ConfigError, match="run `detector fit` again"):
        load_run_config(str(config_file), {})


def test_an_unknown_project_names_the_known_ones(tmp_path, artifacts, make_frame):
    fit(Config.from_mapping({"project": "known", "artifacts": artifacts,
                             "reference": _write_reference(tmp_path, make_frame(200, seed=1))}))
    with pytest.raises(ProjectNotFound, match="unknown project 'nope'.*known projects: known"):
        load_run_config(None, {"project": "nope", "artifacts": artifacts})


def test_passwords_in_source_urls_are_not_stored(tmp_path, artifacts, make_frame):
    reference = _write_reference(tmp_path, make_frame(200, seed=1))
    config = Config.from_mapping({"project": "secret", "artifacts": artifacts, "reference": reference,
                                  "current": {"url": "postgresql://reader:hunter2@db/sales", "table": "batches"}})
    fit(config)
    stored = ArtifactStore(artifacts).load_configuration("secret")
    # The whole userinfo goes: a user name alone can be the credential (https://TOKEN@host/...).
    assert stored["current"]["url"] == "postgresql://***@db/sales"


def test_the_window_since_last_starts_where_the_last_completed_run_ended():
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    config = Config.from_mapping({"project": "p", "timestamp_column": "ts", "since": "last"})
    assert resolve_window(config, None, now) == (None, now)
    assert resolve_window(config, "2026-03-01T06:00:00Z", now) == (now.replace(hour=6), now)
    explicit = Config.from_mapping({"project": "p", "timestamp_column": "ts", "since": "2026-02-01",
                                    "until": "2026-02-02T00:00:00+01:00"})
    assert resolve_window(explicit, None, now) == (dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc),
                                                   dt.datetime(2026, 2, 1, 23, tzinfo=dt.timezone.utc))
    with pytest.raises(ConfigError, match="timestamp_column"):
        resolve_window(Config.from_mapping({"project": "p", "since": "2026-01-01"}), None, now)
    with pytest.raises(ConfigError, match="window is empty"):
        resolve_window(Config.from_mapping({"project": "p", "timestamp_column": "ts", "since": "2026-02-02",
                                            "until": "2026-02-01"}), None, now)


def test_reference_problems_are_data_errors(tmp_path, artifacts, make_frame):
    frame = make_frame(100, seed=1, with_target=False)
    path = _write_reference(tmp_path, frame)
    with pytest.raises(DataError, match="no column.*'missing'"):
        fit(Config.from_mapping({"project": "p", "artifacts": artifacts, "reference": path,
                                 "features": ["x0", "missing"]}))
    with pytest.raises(DataError, match="does not exist"):
        fit(Config.from_mapping({"project": "p", "artifacts": artifacts, "reference": str(tmp_path / "none.csv")}))
    with pytest.raises(ConfigError, match="ks does not apply"):
        fit(Config.from_mapping({"project": "p", "artifacts": artifacts, "reference": path,
                                 "features": {"c0": "ks"}}))


def test_cli_fit_show_and_projects(tmp_path, artifacts, make_frame, capsys):
    path = _write_reference(tmp_path, make_frame(300, seed=1), "reference.csv")
    assert cli.main(["fit", "--project", "cli", "--artifacts", artifacts, "--reference", path]) == 0
    assert json.loads(capsys.readouterr().out)["n_rows"] == 300
    assert cli.main(["show", "--project", "cli", "--artifacts", artifacts]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["features"]["x0"]["type"] == "numeric" and "sample" not in shown["features"]["x0"]
    assert cli.main(["projects", "--artifacts", artifacts]) == 0
    assert "cli" in capsys.readouterr().out
    assert cli.main(["run", "--project", "nope", "--artifacts", artifacts, "--no-report", "--current", path]) == 2
    assert cli.main(["fit", "--artifacts", artifacts, "--reference", path]) == 2  # no project
    assert cli.main([]) == 2


def test_scheduled_runs_with_since_last_read_each_row_once_and_a_failure_does_not_move_on(tmp_path, artifacts,
                                                                                          make_frame):
    from detector.runner import run_once

    reference = _write_reference(tmp_path, make_frame(500, seed=1, start="2026-01-01"))
    batch = tmp_path / "stream.parquet"
    make_frame(600, seed=2, start="2026-02-01T00:00:00Z").to_parquet(batch)  # 10 hours, one row a minute
    common = {"project": "stream", "artifacts": artifacts, "timestamp_column": "ts", "report": False,
              "since": "last"}
    fit(Config.from_mapping({**common, "reference": reference, "since": None}))

    def run(until: str, current=str(batch)):
        return run_once(Config.from_mapping({**common, "current": current, "until": until}))

    first = run("2026-02-01T02:00:00Z")
    assert (first.window_start, first.window_end, first.n_rows) == (None, "2026-02-01T02:00:00Z", 120)
    second = run("2026-02-01T05:00:00Z")
    assert (second.window_start, second.n_rows) == ("2026-02-01T02:00:00Z", 180)
    assert second.parameters["window_start"] == "2026-02-01T02:00:00Z"

    broken = tmp_path / "broken.csv"
    make_frame(50, seed=3, start="2026-02-01T05:00:00Z").drop(columns=["x0"]).to_csv(broken, index=False)
    with pytest.raises(DataError):
        run("2026-02-01T08:00:00Z", str(broken))
    entry = ArtifactStore(artifacts).index()["projects"]["stream"]
    assert entry["status"] == "failed" and entry["last_window_end"] == "2026-02-01T05:00:00Z"
    assert "has no column(s) 'x0'" in entry["last_run"]["error"]

    third = run("2026-02-01T08:00:00Z")
    assert (third.window_start, third.n_rows) == ("2026-02-01T05:00:00Z", 180)  # the failed run's rows too
