"""One place pins versions: constraints.txt pins every package once; requirements files, pyprojects and
Dockerfiles only name what each part needs, and every `pip install` takes the constraints."""

from __future__ import annotations

import configparser
import importlib.metadata
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
#: This repository's own packages: installed from their folders, never from the index, so never pinned.
OWN_PACKAGES = frozenset({"drift-backend", "drift-monitor", "drift-detector"})
#: Folders that hold no sources of ours.
NOT_OURS = frozenset({".venv", ".git", ".cache", "node_modules", ".run"})


def ours(pattern: str) -> list[Path]:
    return sorted(path for path in ROOT.glob(pattern) if not NOT_OURS & set(path.relative_to(ROOT).parts))


REQUIREMENTS_FILES = ours("**/requirements*.txt")
PYPROJECTS = ours("**/pyproject.toml")
DOCKERFILES = ours("**/Dockerfile")
#: Files that run pip besides the Dockerfiles.
INSTALL_SCRIPTS = [ROOT / "Makefile", ROOT / ".ci" / "run", *ours("scripts/*")]


# --- reading the files ------------------------------------------------------------------------------------------


def requirement_entries(text: str) -> list[str]:
    """The requirement lines of a requirements or constraints file: comments, blank lines and options
    (-r, -c, -e and other lines starting with '-') left out, as are local paths (./client)."""
    entries = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line and not line.startswith(("-", ".", "/")):
            entries.append(line)
    return entries


def parse_constraints(text: str) -> dict[str, Version]:
    """Canonical name → pinned version. Every entry must be `name==version`, each name once."""
    pins: dict[str, Version] = {}
    for entry in requirement_entries(text):
        requirement = Requirement(entry)
        (specifier, *more) = list(requirement.specifier) or [None]
        if specifier is None or more or specifier.operator != "==" or "*" in specifier.version:
            raise ValueError(f"not an exact pin: {entry!r}")
        if requirement.extras or requirement.marker:
            raise ValueError(f"a constraint takes no extras or markers: {entry!r}")
        name = canonicalize_name(requirement.name)
        if name in pins:
            raise ValueError(f"pinned twice: {requirement.name}")
        pins[name] = Version(specifier.version)
    return pins


def install_text(path: Path) -> str:
    """The text of a file that runs pip, with the Makefile's $(PIP_INSTALL) written out."""
    text = path.read_text(encoding="utf-8")
    definition = re.search(r"^PIP_INSTALL\s*:=\s*(.*)$", text, flags=re.M)
    return text.replace("$(PIP_INSTALL)", definition.group(1)) if definition else text


def pip_install_commands(text: str) -> list[str]:
    """Each `pip install ...` of a shell text (Dockerfile, Makefile), continued lines joined, up to the
    next `&&`, `;` or `|`."""
    joined = re.sub(r"\\\n", " ", text)
    return [match.group(0).strip() for match in re.finditer(r"pip3? install[^&;|\n]*", joined)]


def installed_packages(command: str) -> list[str]:
    """The packages a `pip install` command names (not options, their values, local paths or variables)."""
    words = shlex.split(command)[2:]
    takes_value = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target",
                   "-i", "--index-url", "--extra-index-url", "--report", "-f", "--find-links"}
    names, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith(("-", ".", "/", "$")):
            names.append(word)
    return names


def pyproject_requirements(path: Path) -> list[Requirement]:
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    entries = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        entries.extend(extra)
    return [Requirement(entry) for entry in entries]


PINS = parse_constraints(CONSTRAINTS.read_text(encoding="utf-8"))


# --- the readers themselves -------------------------------------------------------------------------------------


def test_requirement_entries_skip_comments_options_and_local_paths():
    text = "# a comment\n-r other.txt\n-c constraints.txt\n-e ./client\n./detector\n\nFlask  # why\nPyJWT[crypto]\n"
    assert requirement_entries(text) == ["Flask", "PyJWT[crypto]"]


@pytest.mark.parametrize(("text", "problem"), [
    ("Flask>=3", "not an exact pin"),
    ("Flask", "not an exact pin"),
    ("Flask==3.*", "not an exact pin"),
    ("PyJWT[crypto]==2.15.1", "no extras"),
    ("Flask==3.1.3\nflask==3.1.2", "pinned twice"),
    ("typing_extensions==4\ntyping-extensions==4", "pinned twice"),
])
def test_parse_constraints_refuses_what_is_not_one_exact_pin_per_package(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_constraints(text)


def test_parse_constraints_reads_canonical_names():
    assert parse_constraints("# pins\nPyYAML==6.0.3\ntyping_extensions==4.16.0  # why\n") == {
        "pyyaml": Version("6.0.3"), "typing-extensions": Version("4.16.0")}


def test_pip_install_commands_and_the_packages_they_name(tmp_path):
    dockerfile = ("RUN pip install --no-cache-dir --constraint /tmp/c.txt \\\n        /tmp/src/client debugpy"
                  " && detector --version\n")
    (command,) = pip_install_commands(dockerfile)
    assert installed_packages(command) == ["debugpy"]
    assert installed_packages('pip install -r r.txt "debugpy==${V}" -e ./client') == ["debugpy==${V}"]
    makefile = tmp_path / "Makefile"
    makefile.write_text("PIP_INSTALL := $(BIN)/python -m pip install --quiet --constraint constraints.txt\n"
                        "lint:\n\t$(PIP_INSTALL) ruff\n")
    assert [installed_packages(c) for c in pip_install_commands(install_text(makefile))] == [[], ["ruff"]]


# --- the repository --------------------------------------------------------------------------------------------


def test_the_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in REQUIREMENTS_FILES + PYPROJECTS + DOCKERFILES}
    assert {"requirements-dev.txt", "requirements-test.txt", "frontend/requirements.txt", "backend/pyproject.toml",
            "client/pyproject.toml", "detector/pyproject.toml", "backend/Dockerfile", "detector/Dockerfile"} <= names


@pytest.mark.parametrize("path", REQUIREMENTS_FILES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_requirements_files_name_packages_without_versions(path):
    for entry in requirement_entries(path.read_text(encoding="utf-8")):
        try:
            requirement = Requirement(entry)
        except InvalidRequirement as error:
            pytest.fail(f"{path.name}: {entry!r} is no requirement: {error}")
        assert not requirement.specifier, f"{path.name}: {entry} carries a version; pin it in constraints.txt"


@pytest.mark.parametrize("path", PYPROJECTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_pyprojects_declare_ranges_that_admit_the_pins(path):
    for requirement in pyproject_requirements(path):
        operators = {specifier.operator for specifier in requirement.specifier}
        assert not operators & {"==", "==="}, f"{path}: {requirement} is a pin; declare a range"
        name = canonicalize_name(requirement.name)
        if name in PINS:
            assert requirement.specifier.contains(PINS[name], prereleases=True), (
                f"{path}: {requirement} does not admit the pinned {PINS[name]}")


def named_requirements() -> dict[str, str]:
    """Every package some file of the repository names for installing → where it is named."""
    named = {}
    for path in REQUIREMENTS_FILES:
        for entry in requirement_entries(path.read_text(encoding="utf-8")):
            named[canonicalize_name(Requirement(entry).name)] = path.name
    for path in PYPROJECTS:
        for requirement in pyproject_requirements(path):
            named[canonicalize_name(requirement.name)] = str(path.relative_to(ROOT))
    for path in DOCKERFILES + INSTALL_SCRIPTS:
        for command in pip_install_commands(install_text(path)):
            for package in installed_packages(command):
                named[canonicalize_name(re.split(r"[\[<>=!~ ]", package)[0])] = str(path.relative_to(ROOT))
    return named


def test_every_named_requirement_has_a_pin():
    named = named_requirements()
    # pip upgrades itself in the fresh venv (Makefile) before anything is installed with the constraints.
    unpinned = {name: where for name, where in named.items()
                if name not in PINS and name not in OWN_PACKAGES and name != "pip"}
    assert not unpinned, f"named but not pinned in constraints.txt: {unpinned}"
    assert {"flask", "streamlit", "pytest", "scipy", "s3fs", "debugpy", "ruff"} <= set(named)


@pytest.mark.parametrize("path", DOCKERFILES + INSTALL_SCRIPTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_pip_install_takes_the_constraints_and_pins_nothing_itself(path):
    text = install_text(path)
    for command in pip_install_commands(text):
        packages = installed_packages(command)
        if packages == ["pip"]:  # the Makefile's bootstrap of a fresh venv
            continue
        assert re.search(r"(--constraint|-c)[\s=]+\S*constraints\.txt", command), (
            f"{path.relative_to(ROOT)}: `{command}` does not use constraints.txt")
        for package in packages:
            assert not re.search(r"[<>=!~]=|[<>]", package), (
                f"{path.relative_to(ROOT)}: `{command}` pins {package}; pin it in constraints.txt")
    assert not re.search(r"^ARG\s+\w*VERSION\w*=", text, flags=re.M), (
        f"{path.relative_to(ROOT)} carries a version of its own")


def test_the_makefile_reinstalls_when_the_pins_or_the_needs_change():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^PIP_INSTALL\s*:=.*pip install.*--constraint constraints\.txt", makefile, flags=re.M)
    prerequisites = re.search(r"^\$\(VENV\)/\.dev-installed:(.*)$", makefile, flags=re.M).group(1).split()
    expected = {"constraints.txt", "requirements-dev.txt", "frontend/requirements.txt", "backend/pyproject.toml",
                "client/pyproject.toml", "detector/pyproject.toml"}
    assert expected <= set(prerequisites), expected - set(prerequisites)


def test_the_development_venv_has_the_pinned_versions():
    """`make` reinstalls when constraints.txt changes; a venv that drifted from the pins fails here."""
    drifted = {}
    for name, pinned in PINS.items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            continue  # e.g. the detector image's s3 extra and the Docker-only debugger
        if installed != pinned:
            drifted[name] = f"{installed} installed, {pinned} pinned"
    assert not drifted, f"run `make test` (it reinstalls with constraints.txt): {drifted}"


def test_pytest_imports_our_packages_as_installed_packages():
    """pytest.ini's pythonpath holds only what is no package: the root (sandbox/) and tests/ (factories)."""
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    assert ini["pytest"]["pythonpath"].split() == [".", "tests"]
    for distribution in OWN_PACKAGES:
        assert importlib.metadata.version(distribution), distribution
