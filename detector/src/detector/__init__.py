"""Drift Monitoring's detector: fit a reference profile once, test new batches against it, report each run.

    detector fit --config detector.yaml --reference data/train.parquet
    detector run --config detector.yaml --current data/today.parquet

The same as functions: ``fit(Config)``, ``run_once(Config)``; the statistics alone (no I/O) are
``fit_profile``, ``detect_data_drift`` and ``detect_concept_drift``. Importing the package loads
nothing heavy; the names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0.dev0"

_EXPORTS = {
    "ArtifactStore": "artifacts",
    "Config": "config",
    "ConfigError": "errors",
    "DataError": "errors",
    "DetectorError": "errors",
    "PluginError": "errors",
    "ProjectNotFound": "errors",
    "ArtifactError": "errors",
    "RunOutcome": "runner",
    "fit": "runner",
    "run_once": "runner",
    "load_fit_config": "runner",
    "load_run_config": "runner",
    "fit_profile": "profile",
    "detect_data_drift": "detection",
    "detect_concept_drift": "detection",
    "read_source": "sources",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
