"""Pure parts of the client: serialisation, settings precedence, exception mapping, import hygiene."""

from __future__ import annotations

import datetime as dt
import enum
import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from drift_monitor import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    DriftMonitorError,
    ExperimentNotFound,
    NotFound,
    PermissionDenied,
    ServerError,
    Settings,
    ValidationError,
)
from drift_monitor._exceptions import error_class
from drift_monitor._serialize import to_json


class Colour(enum.Enum):
    RED = "red"


UID = uuid.UUID("12345678-1234-5678-1234-567812345678")

SERIALISATION = [
    ({"a": 1, "b": [1.5, "x", None, True]}, {"a": 1, "b": [1.5, "x", None, True]}),
    ({"when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)}, {"when": "2026-01-02T03:04:05+00:00"}),
    ({"day": dt.date(2026, 1, 2)}, {"day": "2026-01-02"}),
    ({"d": Decimal("1.25"), "i": Decimal("3")}, {"d": 1.25, "i": 3}),
    ({"u": UID, "p": Path("/tmp/x")}, {"u": str(UID), "p": "/tmp/x"}),
    ({"s": {3, 1, 2}, "t": (1, (2, 3))}, {"s": [1, 2, 3], "t": [1, [2, 3]]}),
    ({1: "int key", Colour.RED: Colour.RED}, {"1": "int key", "red": "red"}),
    ({"nested": {"deeper": [{"x": dt.timedelta(seconds=90)}]}}, {"nested": {"deeper": [{"x": 90.0}]}}),
]


@pytest.mark.parametrize(("value", "expected"), SERIALISATION)
def test_serialisation_table(value, expected):
    converted = to_json(value)
    assert converted == expected
    json.dumps(converted, allow_nan=False)


@pytest.mark.parametrize(("value", "path"), [
    ({"a": float("nan")}, "parameters.a"),
    ({"a": [1, float("inf")]}, r"parameters.a\[1\]"),
    ({"a": {"b": Decimal("NaN")}}, "parameters.a.b"),
    ({"a": object()}, "parameters.a"),
    ({"a": b"bytes"}, "parameters.a"),
    ({(1, 2): 3}, "parameters"),
])
def test_unconvertible_values_name_their_key_path(value, path):
    with pytest.raises(ValueError, match=path):
        to_json(value)


def test_too_deep_or_cyclic_parameters_are_refused():
    cyclic: dict = {}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match="deeper"):
        to_json(cyclic)


def test_numpy_values():
    np = pytest.importorskip("numpy")
    assert to_json({"f": np.float32(0.5), "i": np.int64(3), "b": np.bool_(True), "a": np.arange(4).reshape(2, 2),
                    np.int64(7): "k", "t": np.datetime64("2026-01-02")}) == \
        {"f": 0.5, "i": 3, "b": True, "a": [[0, 1], [2, 3]], "7": "k", "t": "2026-01-02"}
    with pytest.raises(ValueError, match=r"parameters.a\[1\]"):
        to_json({"a": np.array([1.0, np.nan])})


def test_pandas_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"feature": ["x", "y"], "psi": [0.1, 0.2]})
    assert to_json({"frame": frame, "series": pd.Series({"x": 1, "y": 2}),
                    "at": pd.Timestamp("2026-01-02T03:04:05Z")}) == {
        "frame": [{"feature": "x", "psi": 0.1}, {"feature": "y", "psi": 0.2}],
        "series": {"x": 1, "y": 2},
        "at": "2026-01-02T03:04:05+00:00",
    }
    with pytest.raises(ValueError, match="parameters.t"):
        to_json({"t": pd.NaT})


def test_numpy_and_pandas_are_not_imported_by_the_client():
    code = "import sys, drift_monitor; drift_monitor.Client(url='http://x'); print('numpy' in sys.modules, " \
           "'pandas' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"}).stdout
    assert output.split() == ["False", "False"]


# Settings ---------------------------------------------------------------------------------


def test_settings_precedence_argument_over_environment_over_default():
    environ = {"DRIFT_MONITOR_URL": "https://env.example", "DRIFT_MONITOR_TIMEOUT": "30",
               "DRIFT_MONITOR_STRICT": "yes", "DRIFT_MONITOR_SPOOL_DIR": "~/spool"}
    settings = Settings.resolve(environ, url="https://arg.example")
    assert settings.url == "https://arg.example"
    assert settings.timeout == 30.0
    assert settings.timeouts == (5.0, 30.0)
    assert settings.strict is True
    assert settings.spool_dir == Path("~/spool").expanduser()
    assert settings.api_url == "https://arg.example/api/v1"
    defaults = Settings.resolve({})
    assert (defaults.url, defaults.api_version, defaults.mytoken_server) == (None, "v1", "https://mytok.eu")
    assert defaults.timeout == 10.0 and defaults.verify is True
    assert defaults.spool_dir.parts[-2:] == ("drift-monitor", "spool")
    assert Settings.resolve({"DRIFT_MONITOR_CA_BUNDLE": "/ca.pem", "DRIFT_MONITOR_VERIFY_TLS": "false"}).verify \
        == "/ca.pem"
    assert Settings.resolve({"DRIFT_MONITOR_VERIFY_TLS": "false"}).verify is False


def test_missing_url_fails_at_first_use_naming_the_variable():
    settings = Settings.resolve({})
    with pytest.raises(ConfigurationError, match="DRIFT_MONITOR_URL"):
        _ = settings.api_url


@pytest.mark.parametrize(("variable", "value"), [("DRIFT_MONITOR_TIMEOUT", "soon"), ("DRIFT_MONITOR_TIMEOUT", "-1"),
                                                 ("DRIFT_MONITOR_STRICT", "maybe")])
def test_invalid_settings_name_the_variable(variable, value):
    with pytest.raises(ConfigurationError, match=variable):
        Settings.resolve({variable: value})


def test_unknown_setting_is_a_type_error():
    with pytest.raises(TypeError, match="colour"):
        Settings.resolve({}, colour="red")


# Exceptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [(401, AuthenticationError), (403, PermissionDenied), (404, NotFound),
                                             (409, Conflict), (422, ValidationError), (500, ServerError),
                                             (503, ServerError), (418, APIError)])
def test_status_to_exception(status, cls):
    assert error_class(status) is cls
    assert issubclass(cls, APIError) and issubclass(cls, DriftMonitorError)


def test_tree_and_1_1_compatibility():
    assert issubclass(ExperimentNotFound, NotFound)
    for cls in (ExperimentNotFound, Conflict, ValidationError):
        assert issubclass(cls, ValueError)
    error = Conflict(409, "name taken", errors={"json": {"name": ["x"]}}, method="POST", url="http://h/api/v1/e")
    assert (error.status, error.message) == (409, "name taken")
    assert "name taken" in str(error) and "POST" in str(error)


def test_import_makes_no_request_and_needs_no_setting():
    code = "import socket\n" \
           "def refuse(*a, **k): raise AssertionError('network used at import')\n" \
           "socket.socket.connect = refuse\n" \
           "import drift_monitor\nprint(sorted(drift_monitor.__all__)[:1])"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"})


def test_spool_replay_reports_progress(tmp_path):
    from drift_monitor._spool import Spool

    class AcceptingClient:
        def post_drift_body(self, experiment_id, body):
            return {"id": body["id"]}

        def put_drift_body(self, experiment_id, run_id, body):
            return {"id": run_id}

    spool = Spool(tmp_path)
    for index in range(3):
        spool.add("create", {"id": "exp-1", "name": "e"}, f"run-{index}", {"job_status": "Running", "model": "m"})
    seen = []

    result = spool.replay(AcceptingClient(), progress=lambda done, total: seen.append((done, total)))

    assert result.uploaded == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert spool.pending() == []
