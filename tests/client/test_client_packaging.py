"""The client builds into a wheel users can install: typed, with the `drift-monitor` command."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"


@pytest.mark.network  # the isolated build environment installs setuptools from the package index
def test_the_wheel_builds_with_type_information_and_the_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(CLIENT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    (wheel,) = tmp_path.glob("drift_monitor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "drift_monitor/py.typed" in names
    assert "drift-monitor = drift_monitor._cli:main" in entry_points


def test_the_version_is_declared_once_in_pyproject():
    import re
    import tomllib

    declared = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]["version"]
    for source in (CLIENT / "drift_monitor").glob("*.py"):
        assert declared not in source.read_text(), f"{source.name} repeats the version {declared}"
        assert not re.search(r"__version__\s*=\s*['\"]", source.read_text()), source.name
