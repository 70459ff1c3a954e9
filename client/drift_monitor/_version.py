"""The client's version, read from the installed package's metadata (pyproject.toml is its one source)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["DISTRIBUTION", "UNKNOWN_VERSION", "VERSION", "installed_version"]

DISTRIBUTION = "drift-monitor"
#: Reported when the package runs from a source tree without being installed (PEP 440 local version).
UNKNOWN_VERSION = "0+unknown"


def installed_version(distribution: str = DISTRIBUTION) -> str:
    """The installed version of ``distribution``, or ``UNKNOWN_VERSION`` when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


VERSION = installed_version()
