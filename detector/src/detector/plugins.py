"""Plug-in detectors: any function ``(reference, current, config) -> (detected, parameters)``.

    def my_detector(reference: pandas.DataFrame, current: pandas.DataFrame,
                    config: dict) -> tuple[bool, dict]: ...

``reference`` is the reference *row sample* stored by `detector fit` (at most profile.sample_size
rows, drawn uniformly; features, label, prediction and timestamp columns), not the full reference.
``current`` is the whole current batch (the same columns). ``config`` is the project's configuration
as a plain dict (YAML shape), including ``detector_options``. The function's result replaces the
built-in data-drift tests: it is reported with ``monitor.data(detected, parameters)``. Concept drift
is still computed by the built-in code when labels and predictions are present.

Only the function the operator's configuration names is imported (``registry.registry_for``
registers it as a batch test); nothing is discovered from installed packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from .errors import ConfigError, PluginError

__all__ = ["call_plugin", "load_plugin"]

Plugin = Callable[[pd.DataFrame, pd.DataFrame, dict], tuple[bool, Mapping[str, Any]]]


def load_plugin(spec: str) -> Plugin:
    """The function named by ``package.module:function`` (importable from the current environment)."""
    module_name, separator, attribute = spec.partition(":")
    if not separator or not module_name or not attribute:
        raise ConfigError(f"detector {spec!r} must look like package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"cannot import the detector module {module_name!r}: {error} "
                          "(install it, or put its folder on PYTHONPATH)") from None
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
        if function is None:
            raise ConfigError(f"module {module_name!r} has no {attribute!r} (detector {spec!r})")
    if not callable(function):
        raise ConfigError(f"detector {spec!r} is not a function")
    return function


def call_plugin(function: Plugin, reference: pd.DataFrame, current: pd.DataFrame,
                config: Mapping[str, Any]) -> tuple[bool, dict]:
    """Run a plug-in and check its answer; its own exceptions propagate (the run is then Failed)."""
    result = function(reference, current, dict(config))
    name = getattr(function, "__qualname__", repr(function))
    if not isinstance(result, tuple) or len(result) != 2:
        raise PluginError(f"detector {name} must return (detected, parameters), not {type(result).__name__}")
    detected, parameters = result
    try:
        detected = bool(detected)
    except (TypeError, ValueError):
        raise PluginError(f"detector {name} returned a `detected` that is not true or false: {detected!r}") from None
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise PluginError(f"detector {name} must return its parameters as a mapping, not "
                          f"{type(parameters).__name__}")
    return detected, dict(parameters)
