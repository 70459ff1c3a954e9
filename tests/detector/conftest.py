"""Fixtures of the detector tests: synthetic data with known answers, and a user of a real backend to report to.

The backend is tests/conftest.py's `detector_backend` (gunicorn, the sandbox identity provider's tokens,
the embedded database), started once per test process; tests create their own users and experiments.
`clean_environment` there keeps DRIFT_MONITOR_* and DETECTOR_* of the developer's shell out.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from drift_monitor import Client

from factories import USERS_GROUP


def synthetic_frame(n: int, seed: int, *, numeric: int = 3, categorical: int = 2, shift: dict | None = None,
                    start: str = "2026-01-01", with_target: bool = True) -> pd.DataFrame:
    """Independent features with known distributions; ``shift`` moves some of them.

    Numeric ``x0..``: N(shift, 1). Categorical ``c0..``: categories a–e with probabilities
    .4/.25/.15/.12/.08, or ``shift[name]`` (a probability vector). ``label`` depends on x0 and
    ``prediction`` is right ~80 % of the time; ``ts`` is one row a minute from ``start``.
    """
    shift = shift or {}
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for index in range(numeric):
        name = f"x{index}"
        columns[name] = rng.normal(shift.get(name, 0.0), 1.0, n)
    for index in range(categorical):
        name = f"c{index}"
        probabilities = shift.get(name, [0.4, 0.25, 0.15, 0.12, 0.08])
        columns[name] = rng.choice(list("abcde"), size=n, p=probabilities)
    frame = pd.DataFrame(columns)
    if with_target:
        signal = columns["x0"] if numeric else rng.normal(size=n)
        frame["label"] = (np.asarray(signal) + rng.normal(0, 1, n) > 0).astype(int)
        correct = rng.random(n) < shift.get("accuracy", 0.8)
        frame["prediction"] = np.where(correct, frame["label"], 1 - frame["label"])
    frame["ts"] = pd.date_range(start, periods=n, freq="min", tz="UTC")
    return frame


@pytest.fixture
def make_frame():
    return synthetic_frame


@pytest.fixture
def server(detector_backend, idp, tmp_path, monkeypatch):
    """A registered user's client of the real backend, and the same settings in the environment (for the CLI)."""
    sub = str(uuid.uuid4())
    token = idp.token(sub, email=f"{sub[:8]}@example.org", entitlements=[USERS_GROUP])
    monkeypatch.setenv("DRIFT_MONITOR_URL", detector_backend)
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", token)
    # A run the server does not take is a test failure, not something to spool and hide.
    monkeypatch.setenv("DRIFT_MONITOR_STRICT", "true")
    client = Client(url=detector_backend, token=token, spool_dir=tmp_path / "spool", strict=True)
    client.register()
    yield client
    client.close()


@pytest.fixture
def experiment(server) -> dict:
    return server.create_experiment(f"detector-{uuid.uuid4().hex[:10]}", "detector test")
