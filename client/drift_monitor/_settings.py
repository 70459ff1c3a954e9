"""Client settings, resolved as: explicit argument > environment variable > default."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ._exceptions import ConfigurationError

__all__ = ["Settings"]

DEFAULT_API_VERSION = "v1"
DEFAULT_MYTOKEN_SERVER = "https://mytok.eu"
DEFAULT_TIMEOUT = 10.0
#: A connection that takes longer than this is not going to work; fail over to the spool sooner.
MAX_CONNECT_TIMEOUT = 5.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _default_spool_dir() -> Path:
    """The platform's per-user data directory, plus ``drift-monitor/spool``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "drift-monitor" / "spool"


def _bool(variable: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{variable} must be true or false, not {value!r}")


def _seconds(variable: str, value: str | float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{variable} must be a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise ConfigurationError(f"{variable} must be positive, not {value!r}")
    return seconds


@dataclass(frozen=True)
class Settings:
    """Everything the client can be configured with; see ``Settings.resolve``.

    Each field maps to one environment variable (in ``metadata["env"]``), read before the
    older names in ``metadata["legacy_env"]``, if any.
    """

    url: str | None = field(default=None, metadata={"env": "DRIFT_MONITOR_URL"})
    api_version: str = field(default=DEFAULT_API_VERSION, metadata={"env": "DRIFT_MONITOR_API_VERSION"})
    mytoken: str | None = field(default=None, metadata={"env": "DRIFT_MONITOR_MYTOKEN"})
    # MYTOKEN_SERVER is what drift-monitor 1.x read; compose and the dashboard use the prefixed name.
    mytoken_server: str = field(default=DEFAULT_MYTOKEN_SERVER,
                                metadata={"env": "DRIFT_MONITOR_MYTOKEN_SERVER", "legacy_env": ("MYTOKEN_SERVER",)})
    token: str | None = field(default=None, metadata={"env": "DRIFT_MONITOR_TOKEN"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={"env": "DRIFT_MONITOR_TIMEOUT"})
    spool_dir: Path = field(default_factory=_default_spool_dir, metadata={"env": "DRIFT_MONITOR_SPOOL_DIR"})
    ca_bundle: str | None = field(default=None, metadata={"env": "DRIFT_MONITOR_CA_BUNDLE"})
    verify_tls: bool = field(default=True, metadata={"env": "DRIFT_MONITOR_VERIFY_TLS"})
    strict: bool = field(default=False, metadata={"env": "DRIFT_MONITOR_STRICT"})

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, **arguments) -> Settings:
        """Settings from ``arguments`` (None means "not given"), then ``environ``, then defaults.

        Never touches the network and never fails for a *missing* setting: that is
        reported when the setting is first needed (see ``require_url``).
        """
        environ = os.environ if environ is None else environ
        known = {spec.name: spec for spec in fields(cls)}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise TypeError(f"unknown drift-monitor setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        values = {}
        for name, spec in known.items():
            variable = spec.metadata["env"]
            given = arguments.get(name)
            for candidate in (variable, *spec.metadata.get("legacy_env", ())):
                if given is None and environ.get(candidate) not in (None, ""):
                    given, variable = environ[candidate], candidate
            if given is None:
                continue
            values[name] = cls._convert(name, variable, given)
        return cls(**values)

    @staticmethod
    def _convert(name: str, variable: str, value):
        if name == "timeout":
            return _seconds(variable, value)
        if name in ("verify_tls", "strict"):
            return _bool(variable, value)
        if name == "spool_dir":
            return Path(value).expanduser()
        return str(value)

    def with_overrides(self, **arguments) -> Settings:
        """A copy with the given (not None) arguments applied."""
        changes = {}
        for spec in fields(self):
            if arguments.get(spec.name) is not None:
                changes[spec.name] = self._convert(spec.name, spec.metadata["env"], arguments[spec.name])
        return replace(self, **changes)

    # Derived values ------------------------------------------------------------------

    def require_url(self) -> str:
        if not self.url:
            raise ConfigurationError(
                "the Drift Monitoring server is not configured: set DRIFT_MONITOR_URL "
                "(e.g. https://drift.example.org) or pass url=..."
            )
        return self.url.rstrip("/")

    @property
    def api_url(self) -> str:
        """Base URL of the versioned API, e.g. https://host/api/v1."""
        return f"{self.require_url()}/api/{self.api_version}"

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for requests."""
        return (min(MAX_CONNECT_TIMEOUT, self.timeout), self.timeout)

    @property
    def verify(self) -> bool | str:
        """The ``verify`` argument of requests: a CA bundle path, or whether to check TLS."""
        if self.ca_bundle:
            return self.ca_bundle
        return self.verify_tls
