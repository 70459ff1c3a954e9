"""The detector is declared and packaged as promised: dependencies, the console command, the image.

The image itself needs a Docker engine to build; here its Dockerfile is checked for what the
deployment relies on (pinned base, stages, unprivileged user, volumes, entry point).
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DETECTOR = ROOT / "detector"


def _stages(dockerfile: str) -> dict[str, str]:
    """Stage name → its instructions."""
    parts = re.split(r"^FROM\s+", dockerfile, flags=re.M)[1:]
    stages = {}
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header.strip()
        stages[name] = header + "\n" + body
    return stages


def test_pyproject_declares_the_dependencies_the_command_and_the_s3_extra():
    project = tomllib.loads((DETECTOR / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", requirement)[0].lower() for requirement in project["dependencies"]}
    assert names >= {"numpy", "scipy", "pandas", "pyarrow", "pyyaml", "fsspec", "pymongo", "sqlalchemy", "tqdm",
                     "drift-monitor"}
    assert {re.split(r"[<>= ]", item)[0] for item in project["optional-dependencies"]["s3"]} == {"fsspec", "s3fs"}
    assert project["scripts"] == {"detector": "detector.cli:main"}
    entry_points = importlib.metadata.entry_points(group="console_scripts", name="detector")
    assert [entry.value for entry in entry_points] == ["detector.cli:main"]  # the installed package


def test_the_development_requirements_install_the_detector():
    lines = [line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()]
    assert "-e ./detector" in lines


def test_the_image_pins_its_versions_and_runs_unprivileged():
    dockerfile = (DETECTOR / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", bases[0]), bases[0]
    stages = _stages(dockerfile)
    assert {"base", "builder", "runtime"} <= set(stages)
    final = list(stages)[-1]
    runtime = stages[final]
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", runtime, flags=re.M), "the final stage must not run as root"
    assert 'ENTRYPOINT ["detector"]' in runtime and 'CMD ["run"]' in runtime
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    for forbidden in ("build-essential", "gcc", "apt-get install", "COPY client", "COPY detector"):
        assert forbidden not in runtime, forbidden
    builder = stages["builder"]
    assert "COPY client/" in builder and "COPY detector/" in builder  # build context = repository root
    assert "--no-cache-dir" in builder and "--constraint" in builder
    assert "DETECTOR_ARTIFACTS=/artifacts" in runtime and "DRIFT_MONITOR_SPOOL_DIR=/spool" in runtime


def test_the_image_constraints_pin_every_runtime_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():  # the one file of pins
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[name.lower()] = version
    for name in ("numpy", "scipy", "pandas", "pyarrow", "pyyaml", "fsspec", "pymongo", "sqlalchemy", "tqdm",
                 "requests", "s3fs"):
        assert name in pins, name
    # The image and the development environment resolve the shared libraries alike.
    for name in ("numpy", "pandas", "pymongo", "requests"):
        assert pins[name] == importlib.metadata.version(name), name


def test_the_compose_service_example_configuration_is_valid():
    from detector.config import Config, read_config_file

    example = read_config_file(str(DETECTOR / "config" / "detector.yaml"))
    config = Config.from_mapping(example)

    assert config.project == "credit-scoring"
    assert config.label == "default" and config.prediction == "predicted_default"
