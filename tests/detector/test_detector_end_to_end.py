"""fit → run through the command line against the real backend (gunicorn, sandbox IdP tokens):
what is stored, failed runs with their reason, unknown projects, plug-in detectors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import detector.cli as cli

README = Path(__file__).resolve().parents[2] / "detector" / "README.md"
FEATURE_KEYS = {"test", "statistic", "p_value", "p_value_adjusted", "effect_size", "threshold", "drifted"}


@pytest.fixture
def project(tmp_path, make_frame, experiment):
    """A fitted project reporting to ``experiment``; returns (config file, folder of the batches)."""
    data = tmp_path / "data"
    data.mkdir()
    make_frame(5000, seed=1).to_parquet(data / "reference.parquet")
    config = tmp_path / "detector.yaml"
    config.write_text(yaml.safe_dump({
        "project": "e2e", "artifacts": str(tmp_path / "artifacts"), "experiment": experiment["name"],
        "model": "model-e2e", "tags": ["nightly"], "timestamp_column": "ts", "label": "label",
        "prediction": "prediction", "features": {"x0": "ks", "x1": "wasserstein", "x2": "psi", "c0": "chi2",
                                                  "c1": "jensenshannon"},
        "reference": str(data / "reference.parquet"),
    }))
    assert cli.main(["fit", "--config", str(config), "--progress", "off"]) == 0
    return config, data


def _last_run(server, experiment) -> dict:
    runs = server.get_drifts(experiment)
    assert runs, "no run was stored"
    return runs[-1]


def test_the_command_fits_and_runs_in_its_own_process_and_the_server_stores_every_feature(
        tmp_path, make_frame, server, experiment):
    data = tmp_path / "data"
    data.mkdir()
    make_frame(4000, seed=1).to_parquet(data / "reference.parquet")
    make_frame(3000, seed=2, shift={"x0": 0.4, "c1": [0.2, 0.2, 0.2, 0.2, 0.2], "accuracy": 0.7}).to_csv(
        data / "current.csv", index=False)
    config = tmp_path / "detector.yaml"
    config.write_text(yaml.safe_dump({"project": "cli", "artifacts": str(tmp_path / "artifacts"),
                                      "experiment": experiment["name"], "model": "model-cli", "label": "label",
                                      "prediction": "prediction", "timestamp_column": "ts"}))
    environment = {**os.environ, "DETECTOR_CONFIG": str(config), "DETECTOR_PROGRESS": "log"}
    fitted = subprocess.run([sys.executable, "-m", "detector", "fit", "--reference", str(data / "reference.parquet")],
                            env=environment, capture_output=True, text=True, timeout=120)
    assert fitted.returncode == 0, fitted.stderr
    ran = subprocess.run(["detector", "run", "--current", str(data / "current.csv"), "--tag", "cli"],
                         env={**environment, "PATH": f"{Path(sys.executable).parent}:{environment['PATH']}"},
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "testing features: done (5/5)" in ran.stderr  # plain log lines when stderr is not a terminal
    assert re.search(r"project cli: Completed; data drift DETECTED \(2/5 features drifted\)", ran.stderr)

    run = _last_run(server, experiment)
    assert run["job_status"] == "Completed" and run["model"] == "model-cli"
    assert run["drift_detected"] is True and run["tags"] == ["cli", "concept_drift", "data_drift"]
    data_drift = run["data_drift"]["parameters"]
    assert {key: data_drift[key] for key in ("n_features", "n_drifted", "correction", "alpha", "threshold")} == {
        "n_features": 5, "n_drifted": 2, "correction": "benjamini-hochberg", "alpha": 0.05, "threshold": 0.25}
    assert data_drift["drift_share"] == pytest.approx(0.4)
    for name, result in data_drift["features"].items():
        assert FEATURE_KEYS <= set(result), name
    assert {name for name, result in data_drift["features"].items() if result["drifted"]} == {"x0", "c1"}
    concept = run["concept_drift"]["parameters"]
    assert {"metric", "reference", "current", "delta", "ci_low", "ci_high", "confidence", "label_shift",
            "prediction_shift"} <= set(concept)
    assert run["concept_drift"]["drift"] is True and concept["ci_high"] < 0
    assert run["parameters"]["project"] == "cli" and run["parameters"]["n_rows"] == 3000


def test_all_test_kinds_report_in_the_dashboard_layout(project, make_frame, server, experiment):
    config, data = project
    make_frame(2000, seed=3).to_parquet(data / "current.parquet")
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.parquet"), "--progress", "off"]) == 0
    features = _last_run(server, experiment)["data_drift"]["parameters"]["features"]
    assert {name: result["test"] for name, result in features.items()} == {
        "x0": "ks", "x1": "wasserstein", "x2": "psi", "c0": "chi2", "c1": "jensenshannon"}
    for name in ("x1", "x2", "c1"):  # distances: no p-value
        assert features[name]["p_value"] is None and features[name]["p_value_adjusted"] is None
    assert features["x0"]["p_value"] is not None and features["c0"]["df"] == 4
    assert not any(result["drifted"] for result in features.values())


def _failed_run(server, experiment, reason: str) -> dict:
    run = _last_run(server, experiment)
    assert run["job_status"] == "Failed"
    assert re.search(reason, run["parameters"]["error"]), run["parameters"]["error"]
    return run


def test_a_batch_missing_a_column_fails_is_reported_and_exits_1(project, make_frame, server, experiment, caplog):
    config, data = project
    make_frame(500, seed=4).drop(columns=["x1"]).to_csv(data / "current.csv", index=False)
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.csv")]) == 1
    _failed_run(server, experiment, r"DataError: .*has no column\(s\) 'x1'")
    assert "has no column(s) 'x1'" in caplog.text


def test_a_column_of_the_wrong_type_fails_and_is_reported(project, make_frame, server, experiment):
    config, data = project
    batch = make_frame(500, seed=5)
    batch["x2"] = batch["x2"].astype(object)
    batch.loc[[3, 7], "x2"] = "twelve"
    batch.to_csv(data / "current.csv", index=False)
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.csv")]) == 1
    _failed_run(server, experiment, r"column 'x2' must be numeric .* 2 value\(s\) that are not numbers, e.g. 'twelve'")


def test_an_empty_window_fails_and_is_reported(project, make_frame, server, experiment):
    config, data = project
    make_frame(500, seed=6, start="2026-03-01").to_parquet(data / "current.parquet")
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.parquet"), "--since", "2027-01-01"]) == 1
    _failed_run(server, experiment, r"current batch is empty.*from 2027-01-01T00:00:00Z")


def test_an_unreadable_file_fails_and_is_reported(project, server, experiment):
    config, data = project
    (data / "current.parquet").write_bytes(b"not parquet at all")
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.parquet")]) == 1
    _failed_run(server, experiment, r"cannot read .*current.parquet as parquet")


def test_an_unknown_project_exits_2_and_is_reported_failed(tmp_path, make_frame, server, experiment, caplog):
    path = tmp_path / "batch.csv"
    make_frame(100, seed=7).to_csv(path, index=False)
    status = cli.main(["run", "--project", "never-fitted", "--artifacts", str(tmp_path / "artifacts"),
                       "--experiment", experiment["name"], "--current", str(path)])
    assert status == 2
    assert "unknown project 'never-fitted'" in caplog.text
    run = _failed_run(server, experiment, r"ProjectNotFound: unknown project 'never-fitted'.*detector fit")
    # Reported with DriftMonitor.fail: the reason in parameters.error, beside what the detector knows.
    assert set(run["parameters"]) == {"detector", "project", "error"} and run["parameters"]["project"] == "never-fitted"
    assert run["drift_detected"] is False


def test_an_unknown_experiment_exits_1_saying_so(project, make_frame, server, caplog):
    config, data = project
    make_frame(100, seed=8).to_csv(data / "current.csv", index=False)
    assert cli.main(["run", "-c", str(config), "-i", str(data / "current.csv"), "--experiment", "no-such"]) == 1
    assert "no experiment named 'no-such'" in caplog.text


def _readme_plugin() -> str:
    blocks = re.findall(r"```python\n(# my_detectors\.py\n.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README's plug-in example is missing"
    return blocks[0]


def test_the_readme_plugin_example_runs_as_the_detector(project, make_frame, server, experiment, tmp_path,
                                                       monkeypatch):
    config, data = project
    (tmp_path / "my_detectors.py").write_text(_readme_plugin() + """

seen = {}


def recording(reference, current, config):
    seen.update(reference=reference, current=current, config=config)
    return mmd_permutation(reference, current, config)
""")
    monkeypatch.syspath_prepend(str(tmp_path))
    make_frame(1500, seed=9, shift={"x0": 0.5, "x1": 0.5}).to_parquet(data / "current.parquet")
    status = cli.main(["run", "-c", str(config), "-i", str(data / "current.parquet"), "--detector",
                       "my_detectors:recording"])
    assert status == 0
    import my_detectors

    reference, current = my_detectors.seen["reference"], my_detectors.seen["current"]
    assert len(reference) == 5000 and len(current) == 1500  # the stored row sample; the whole batch
    assert sorted(reference.columns) == ["c0", "c1", "label", "prediction", "ts", "x0", "x1", "x2"]
    assert my_detectors.seen["config"]["project"] == "e2e"
    run = _last_run(server, experiment)
    assert run["job_status"] == "Completed" and run["parameters"]["plugin"] == "my_detectors:recording"
    assert run["data_drift"]["drift"] is True
    assert run["data_drift"]["parameters"]["test"] == "mmd" and run["data_drift"]["parameters"]["p_value"] < 0.05
    assert sorted(run["data_drift"]["parameters"]["columns"]) == ["x0", "x1", "x2"]
    assert "concept_drift" in run  # still computed by the built-in code


def test_a_plugin_that_breaks_its_contract_fails_the_run(project, make_frame, server, experiment, tmp_path,
                                                        monkeypatch):
    config, data = project
    (tmp_path / "bad_detectors.py").write_text("def wrong(reference, current, config):\n    return 'drift!'\n"
                                               "def crash(reference, current, config):\n"
                                               "    raise RuntimeError('model store offline')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    make_frame(200, seed=10).to_parquet(data / "current.parquet")
    arguments = ["run", "-c", str(config), "-i", str(data / "current.parquet"), "--detector"]
    assert cli.main([*arguments, "bad_detectors:wrong"]) == 1
    _failed_run(server, experiment, r"PluginError: detector wrong must return \(detected, parameters\)")
    assert cli.main([*arguments, "bad_detectors:crash"]) == 1
    _failed_run(server, experiment, r"RuntimeError: model store offline")
    assert cli.main([*arguments, "bad_detectors:absent"]) == 2  # found before any run starts
    assert cli.main([*arguments, "no_such_module:detect"]) == 2


def test_a_bad_configuration_exits_2_before_anything_is_sent(tmp_path, server, experiment, caplog):
    config = tmp_path / "detector.yaml"
    config.write_text("project: p\nalpha: high\ntests: {numeric: chi2}\n")
    assert cli.main(["run", "-c", str(config)]) == 2
    assert "alpha: must be a number" in caplog.text and "tests.numeric" in caplog.text
    config.write_text("project: [unclosed\n")
    assert cli.main(["run", "-c", str(config)]) == 2
    assert cli.main(["run", "-c", str(tmp_path / "absent.yaml")]) == 2
    assert server.get_drifts(experiment) == []
