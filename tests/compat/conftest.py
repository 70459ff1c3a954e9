"""Fixtures of the compatibility tests: the published drift-monitor client in a venv of its own.

The client is installed from the package index exactly as a user would install it, into a
virtual environment separate from the project's (its pins — marshmallow 3, PyJWT 2.8,
requests 2.32 — differ from the backend's). The venv is kept in `.cache/compat-venv` under the
repository root and reused while it still holds the right version, so only the first run pays
for the download. Set COMPAT_VENV_NO_CACHE=1 to build a throwaway venv for this session only.

When the index cannot be reached the tests are skipped; any other install failure fails them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PUBLISHED_CLIENT = "drift-monitor"
PUBLISHED_VERSION = "1.1.1"
REQUIREMENT = f"{PUBLISHED_CLIENT}=={PUBLISHED_VERSION}"
DEFAULT_INDEX = "https://pypi.org/simple/"

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache"
CACHED_VENV = CACHE_DIR / "compat-venv"
# Written last, once the install succeeded: a venv without it is a broken leftover.
STAMP_NAME = "compat-venv.json"

PIP_INSTALL_TIMEOUT_SECONDS = 420
# Imported by the validity check; drift_monitor itself is not, as importing it calls the MyToken server.
CHECK_SCRIPT = f"""
import importlib.metadata, json, sys
import jwt, libmytoken, marshmallow, numpy, pydantic_settings, requests
print(json.dumps({{"version": importlib.metadata.version({PUBLISHED_CLIENT!r}),
                  "python": sys.version.split()[0], "numpy": numpy.__version__,
                  "marshmallow": importlib.metadata.version("marshmallow"),
                  "requests": requests.__version__}}))
"""


@dataclass(frozen=True)
class ClientVenv:
    path: Path
    python: Path
    versions: dict  # installed versions of the client and its main dependencies
    cached: bool  # reused from an earlier run


@pytest.fixture(scope="session")
def published_client(tmp_path_factory) -> ClientVenv:
    """A venv with drift-monitor==1.1.1 from the package index (cached in .cache/compat-venv)."""
    if os.environ.get("COMPAT_VENV_NO_CACHE"):
        venv = tmp_path_factory.mktemp("compat") / "venv"
        _build_venv(venv)
        return _checked(venv, cached=False)

    CACHE_DIR.mkdir(exist_ok=True)
    with _exclusive_lock(CACHE_DIR / "compat-venv.lock"):  # concurrent runs build it once
        if _is_valid(CACHED_VENV):
            return _checked(CACHED_VENV, cached=True)
        # Built beside its final place and renamed into it, so no half-built venv is ever "the cache".
        staging = Path(tempfile.mkdtemp(prefix="compat-venv.building-", dir=CACHE_DIR))
        try:
            _build_venv(staging / "venv")
            shutil.rmtree(CACHED_VENV, ignore_errors=True)
            (staging / "venv").rename(CACHED_VENV)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _checked(CACHED_VENV, cached=False)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _is_valid(venv: Path) -> bool:
    stamp = venv / STAMP_NAME
    if not stamp.is_file() or not venv_python(venv).exists():
        return False
    try:
        if json.loads(stamp.read_text())["requirement"] != REQUIREMENT:
            return False
        return _installed_versions(venv)["version"] == PUBLISHED_VERSION
    except (ValueError, KeyError, subprocess.SubprocessError, OSError):
        return False


def _installed_versions(venv: Path) -> dict:
    result = subprocess.run([str(venv_python(venv)), "-c", CHECK_SCRIPT], capture_output=True, text=True,
                            timeout=60, env=client_base_env(), cwd=venv)
    if result.returncode != 0:
        raise subprocess.SubprocessError(result.stderr)
    return json.loads(result.stdout)


def _checked(venv: Path, cached: bool) -> ClientVenv:
    try:
        versions = _installed_versions(venv)
    except subprocess.SubprocessError as error:
        pytest.fail(f"the {REQUIREMENT} venv at {venv} is broken:\n{error}")
    assert versions["version"] == PUBLISHED_VERSION, versions
    return ClientVenv(path=venv, python=venv_python(venv), versions=versions, cached=cached)


def _build_venv(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    command = [str(venv_python(venv)), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
               "--retries", "2", "--timeout", "30", REQUIREMENT]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_INSTALL_TIMEOUT_SECONDS,
                                env=client_base_env())
        output = (result.stdout + result.stderr)[-6000:]
        failed = result.returncode != 0
    except subprocess.TimeoutExpired as error:
        output = f"pip did not finish within {PIP_INSTALL_TIMEOUT_SECONDS} s: {error}"
        failed = True
    if failed:
        unreachable = _index_unreachable()
        if unreachable:
            pytest.skip(f"PyPI unreachable: cannot install {PUBLISHED_CLIENT} {PUBLISHED_VERSION} ({unreachable})")
        pytest.fail(f"`pip install {REQUIREMENT}` failed although the index answers:\n{output}", pytrace=False)
    (venv / STAMP_NAME).write_text(json.dumps({"requirement": REQUIREMENT, "built_with": sys.version.split()[0]}))


def _pip_setting(name: str) -> str | None:
    """A pip setting (index-url, cert) from the environment or pip's configuration files."""
    value = os.environ.get(f"PIP_{name.upper().replace('-', '_')}")
    if value:
        return value
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=30).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        if key.strip().endswith(f".{name}"):
            return raw.strip().strip("'\"")
    return None


def _index_unreachable() -> str | None:
    """Why the package index cannot be reached, or None when it answers."""
    index = (_pip_setting("index-url") or DEFAULT_INDEX).rstrip("/") + "/"
    try:
        response = requests.get(f"{index}{PUBLISHED_CLIENT}/", timeout=15, verify=_pip_setting("cert") or True)
    except requests.RequestException as error:
        return f"{index}: {type(error).__name__}: {error}"
    if response.status_code >= 500:
        return f"{index} answered {response.status_code}"
    return None


@contextmanager
def _exclusive_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Variables that would make the client venv see this project's interpreter setup, or that
# pydantic-settings would read into the client's settings (it matches names case-insensitively).
_LEAKY = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV", "TESTING"}
_CLIENT_SETTINGS_PREFIXES = ("DRIFT_MONITOR_", "MYTOKEN_")


@pytest.fixture(name="client_base_env")
def client_base_env_fixture() -> dict[str, str]:
    """The environment the client's processes start from (the test adds the client's settings)."""
    return client_base_env()


def client_base_env() -> dict[str, str]:
    """os.environ without what would leak into the client's interpreter or settings."""
    env = {key: value for key, value in os.environ.items()
           if key.upper() not in _LEAKY and not key.upper().startswith(_CLIENT_SETTINGS_PREFIXES)}
    # The backend and the provider are on loopback: never send those requests through a proxy.
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env
