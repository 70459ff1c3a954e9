"""The backend is the installable package drift-backend: it imports without path tricks, declares every
library it imports, and builds into a wheel that carries all of drift_backend."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"
PACKAGE = BACKEND / "drift_backend"
PROJECT = tomllib.loads((BACKEND / "pyproject.toml").read_text(encoding="utf-8"))


def imported_top_level_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (relative imports are the package's own)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_imported_top_level_modules():
    source = "import a.b, c\nfrom d.e import f\nfrom . import g\nfrom .h import i\nfrom __future__ import annotations\n"
    assert imported_top_level_modules(source) == {"a", "c", "d", "__future__"}


def test_the_project_is_drift_backend_for_python_3_11_with_the_version_of_the_code():
    # Read, not imported: importing drift_backend imports the whole app.
    (__version__,) = re.findall(r'^__version__ = "(.+)"$', (PACKAGE / "version.py").read_text(), flags=re.M)
    project = PROJECT["project"]
    assert project["name"] == "drift-backend"
    assert project["requires-python"] == ">=3.11"
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "drift_backend.version.__version__"}
    assert importlib.metadata.version("drift-backend") == __version__


FIND = """
import importlib.util, json
print(json.dumps({name: getattr(importlib.util.find_spec(name), "origin", None) for name in ("drift_backend", "autoapp")}))
"""


def test_drift_backend_is_found_as_an_installed_package_from_anywhere(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", FIND], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    origins = json.loads(result.stdout)
    # Editable in the development venv: the package is this repository's folder, with no path set.
    assert Path(origins["drift_backend"]).resolve() == (PACKAGE / "__init__.py").resolve()
    # autoapp.py is an entry file beside the package (gunicorn.conf.py puts backend/ on the path), not part of it.
    assert origins["autoapp"] is None


def test_every_library_the_backend_imports_is_a_declared_dependency():
    declared = {canonicalize_name(Requirement(entry).name) for entry in PROJECT["project"]["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for path in PACKAGE.rglob("*.py"):
        for module in imported_top_level_modules(path.read_text(encoding="utf-8")):
            if module in sys.stdlib_module_names or module == "drift_backend":
                continue
            names = {canonicalize_name(name) for name in distributions.get(module, [module])}
            if not names & declared:
                undeclared[module] = path.relative_to(BACKEND).as_posix()
    # bson is pymongo's own package (no distribution of its own is installed).
    assert "pymongo" in declared and distributions.get("bson") == ["pymongo"]
    assert not undeclared, f"imported but not in backend/pyproject.toml's dependencies: {undeclared}"


@pytest.mark.network  # the isolated build environment installs setuptools from the package index
def test_the_wheel_carries_every_module_of_drift_backend_and_no_entry_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(BACKEND)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = tmp_path.glob("drift_backend-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    modules = {path.relative_to(BACKEND).as_posix() for path in PACKAGE.rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not {"autoapp.py", "gunicorn.conf.py"} & names
