"""Credentials never reach what people read (issue 11): the reported run, configuration.yaml, the
index, `detector show`; and a run never reports to someone else's experiment of the same name.

The data really is read with the raw credentials (a local HTTP server sees them), the runs really
are stored by the backend (gunicorn, sandbox IdP tokens) and read back through its API.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from drift_monitor import Client

import detector.cli as cli
from detector.redact import is_secret_key, mask_secrets, mask_url
from detector.runner import load_run_config
from factories import USERS_GROUP

SECRETS = ("SIGSECRET", "CREDSECRET", "TOKSECRET", "PWSECRET", "AKIASECRET", "S3SECRET", "PLUGSECRET", "SASSECRET")


def assert_no_secret(text: str, where: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} holds {leaked}: {text[:2000]}"


class DataServer:
    """Serves a folder over HTTP on loopback and records the request lines it received."""

    def __init__(self, directory: Path):
        self.paths: list[str] = []
        recorder = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.paths.append(self.path)
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def data_server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = DataServer(folder)
    yield server, folder
    server.close()


@pytest.fixture
def fitted(tmp_path, make_frame, experiment):
    """A fitted project whose file carries storage and plug-in credentials; (config file, artifacts)."""
    reference = tmp_path / "reference.parquet"
    make_frame(3000, seed=1).to_parquet(reference)
    artifacts = tmp_path / "artifacts"
    config = tmp_path / "detector.yaml"
    config.write_text(yaml.safe_dump({
        "project": "secrets", "artifacts": str(artifacts), "experiment": experiment["name"], "model": "m",
        # The local filesystem accepts (and ignores) these, as s3fs would use them.
        "storage_options": {"key": "AKIASECRET", "secret": "S3SECRET",
                            "client_kwargs": {"aws_session_token": "TOKSECRET", "region_name": "eu-west-1"}},
        "detector_options": {"api_token": "PLUGSECRET", "columns": ["x0"]},
        "reference": {"url": str(reference)},
        "features": ["x0", "x1", "c0"],
    }))
    assert cli.main(["fit", "--config", str(config), "--progress", "off"]) == 0
    return config, artifacts


def test_query_string_credentials_of_the_source_are_masked_in_the_stored_run(fitted, make_frame, server,
                                                                              experiment, data_server):
    config, _ = fitted
    http, folder = data_server
    make_frame(1000, seed=2).to_csv(folder / "current.csv", index=False)
    source = (f"{http.url}/current.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CREDSECRET%2F20260101"
              "&X-Amz-Signature=SIGSECRET&token=TOKSECRET&sig=SASSECRET&part=1")
    assert cli.main(["run", "-c", str(config), "-i", source, "--progress", "off"]) == 0
    assert any("SIGSECRET" in path for path in http.paths), "the data must be read with the raw URL"

    run = server.get_drifts(experiment)[-1]
    assert run["job_status"] == "Completed"
    assert run["parameters"]["source"] == (
        f"{http.url}/current.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Signature=***"
        "&token=***&sig=***&part=1")
    assert_no_secret(json.dumps(run), "the stored run")


def test_userinfo_of_the_source_is_removed_from_the_run_and_its_error(fitted, make_frame, server, experiment,
                                                                      data_server, caplog):
    config, _ = fitted
    http, folder = data_server
    make_frame(1000, seed=3).to_csv(folder / "current.csv", index=False)
    source = http.url.replace("http://", "http://reader:PWSECRET@") + "/missing.csv?access_token=TOKSECRET"
    assert cli.main(["run", "-c", str(config), "-i", source, "--progress", "off"]) == 1  # 404: the run fails

    run = server.get_drifts(experiment)[-1]
    assert run["job_status"] == "Failed"
    assert run["parameters"]["source"].startswith("http://***@127.0.0.1:")
    assert "error" in run["parameters"]
    assert_no_secret(json.dumps(run), "the stored failed run")
    assert_no_secret(caplog.text, "the log")


def test_configuration_yaml_the_index_and_show_hold_no_raw_secret(fitted, capsys):
    config, artifacts = fitted
    stored = (artifacts / "secrets" / "configuration.yaml").read_text()
    assert_no_secret(stored, "configuration.yaml")
    assert yaml.safe_load(stored)["storage_options"] == {
        "key": "***", "secret": "***", "client_kwargs": {"aws_session_token": "***", "region_name": "eu-west-1"}}
    assert yaml.safe_load(stored)["detector_options"] == {"api_token": "***", "columns": ["x0"]}
    for name in ("index.json", "secrets/profile.json"):
        assert_no_secret((artifacts / name).read_text(), name)

    capsys.readouterr()
    assert cli.main(["show", "-c", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "storage_options" in shown and "***" in shown
    assert_no_secret(shown, "detector show")
    assert cli.main(["projects", "-c", str(config), "--format", "json"]) == 0
    assert_no_secret(capsys.readouterr().out, "detector projects")


def test_show_masks_a_configuration_stored_raw_by_an_older_detector(fitted, capsys):
    config, artifacts = fitted
    stored = artifacts / "secrets" / "configuration.yaml"
    raw = yaml.safe_load(stored.read_text())
    raw["storage_options"] = {"key": "AKIASECRET", "secret": "S3SECRET"}
    raw["reference"] = {"url": "https://reader:PWSECRET@host/train.csv?X-Amz-Signature=SIGSECRET"}
    stored.write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert cli.main(["show", "-c", str(config)]) == 0
    assert_no_secret(capsys.readouterr().out, "detector show")


def test_masked_values_of_the_stored_configuration_never_become_settings(fitted):
    _, artifacts = fitted
    config = load_run_config(None, {"project": "secrets", "artifacts": str(artifacts)})
    assert config.storage_options == {"client_kwargs": {"region_name": "eu-west-1"}}
    assert config.detector_options == {"columns": ["x0"]}
    # The file (or the environment) supplies the real ones.
    assert load_run_config(str(fitted[0]), {}).storage_options["secret"] == "S3SECRET"


@pytest.mark.parametrize(("url", "masked"), [
    ("mongodb://user:PWSECRET@db:27017/shop?collection=scored&authSource=admin",
     "mongodb://***@db:27017/shop?collection=scored&authSource=admin"),
    ("https://TOKSECRET@host/a.csv", "https://***@host/a.csv"),
    ("https://host/a.csv?sv=2024&sig=SASSECRET#access_token=TOKSECRET", "https://host/a.csv?sv=2024&sig=***#access_token=***"),
    ("https://host/a.csv?key=AKIASECRET&page=2", "https://host/a.csv?key=***&page=2"),
    ("data/train.parquet", "data/train.parquet"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_credential_names():
    assert all(map(is_secret_key, ["password", "X-Amz-Signature", "aws_secret_access_key", "key", "sig", "apiKey",
                                   "authMechanismProperties", "client_secret", "sas_token"]))
    assert not any(map(is_secret_key, ["authSource", "collection", "region_name", "endpoint_url", "columns"]))
    assert mask_secrets({"options": {"storage_options": {"token": "TOKSECRET"}, "sep": ";"}}) == {
        "options": {"storage_options": {"token": "***"}, "sep": ";"}}


# Experiments by name are your own ----------------------------------------------------------

def test_a_squatted_experiment_name_is_refused_and_the_shared_one_is_used_by_id(tmp_path, make_frame, server, idp,
                                                                              detector_backend, caplog):
    sub = str(uuid.uuid4())
    bob = Client(url=detector_backend, token=idp.token(sub, entitlements=[USERS_GROUP]))
    bob.register()
    name = f"squat-{uuid.uuid4().hex[:8]}"
    trap = bob.create_experiment(name, "looks like alice's", permissions={server.get_self()["id"]: "Edit"})
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    make_frame(2000, seed=1).to_parquet(reference)
    make_frame(500, seed=2).to_parquet(current)
    common = ["--project", "squat", "--artifacts", str(tmp_path / "artifacts"), "--progress", "off"]
    assert cli.main(["fit", *common, "--reference", str(reference)]) == 0

    assert cli.main(["run", *common, "--current", str(current), "--experiment", name]) == 1
    assert "is yours" in caplog.text and trap["id"] in caplog.text
    assert bob.get_drifts(trap) == []

    assert cli.main(["run", *common, "--current", str(current), "--experiment-id", trap["id"]]) == 0
    assert [run["job_status"] for run in bob.get_drifts(trap)] == ["Completed"]
