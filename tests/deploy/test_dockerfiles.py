"""The Dockerfiles: pinned bases, small final images that run as an unprivileged user with a health check,
development targets under debugpy, and a build context that carries no secrets."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest
from stack_files import REPO_ROOT, STACKS, Dockerfile, merged_stack, parse_dockerfile, services_of

ROOT_CONTEXT_DOCKERFILES = ("backend/Dockerfile", "frontend/Dockerfile", "detector/Dockerfile", "tests/Dockerfile")
#: Images that are deployed (their last stage is the default build): they must be production-grade.
DEPLOYED = ("backend/Dockerfile", "frontend/Dockerfile", "deploy/backup/Dockerfile")
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|rustc|cargo)\b")


def all_dockerfiles() -> list[str]:
    found = {path.relative_to(REPO_ROOT).as_posix() for path in REPO_ROOT.glob("*/**/Dockerfile")
             if not {".venv", ".git", "node_modules", ".cache"} & set(path.parts)}
    for stack in STACKS:
        for service in services_of(merged_stack(stack)).values():
            build = service.get("build")
            if isinstance(build, dict):
                path = REPO_ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
                if path.is_file():
                    found.add(path.resolve().relative_to(REPO_ROOT).as_posix())
    return sorted(found)


DOCKERFILES = all_dockerfiles()


def dockerfile(name: str) -> Dockerfile:
    return parse_dockerfile(REPO_ROOT / name)


def is_root_user(user: str | None) -> bool:
    return user is None or user.split(":")[0].strip() in ("", "root", "0")


def test_the_dockerfiles_are_found():
    assert set(DEPLOYED) | set(ROOT_CONTEXT_DOCKERFILES) <= set(DOCKERFILES)


# --- every Dockerfile ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_images_are_pinned_to_a_full_version(name):
    parsed = dockerfile(name)
    assert parsed.stages, f"{name} has no FROM"
    for stage in parsed.stages:
        image = parsed.external_image(stage)
        if image is None:
            continue
        tag = image.rsplit("/", 1)[-1].partition("@")[0].partition(":")[2]
        assert "@sha256:" in image or re.search(r"\d+\.\d+\.\d+", tag), (
            f"{name}: FROM {image} is not pinned to a full version (x.y.z) or a digest")
        assert "$" not in image, f"{name}: FROM {image} depends on a build argument"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copy_from_names_an_earlier_stage(name):
    parsed = dockerfile(name)
    for stage in parsed.stages:
        for arguments in stage.all("COPY"):
            source_stage = re.search(r"--from=(\S+)", arguments)
            if source_stage:
                earlier = {other.name for other in parsed.stages[: stage.index]}
                assert source_stage.group(1) in earlier, f"{name}: COPY --from={source_stage.group(1)} is no earlier stage"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_pip_and_apt_leave_no_caches(name):
    for stage in dockerfile(name).stages:
        for command in stage.all("RUN"):
            for pip in re.finditer(r"pip3? install[^&;]*", command):
                assert "--no-cache-dir" in pip.group(0), f"{name} ({stage.name}): {pip.group(0)!r} keeps pip's cache"
            if "apt-get install" in command:
                assert "--no-install-recommends" in command, f"{name} ({stage.name}): apt-get installs recommends"
                assert "rm -rf /var/lib/apt/lists" in command, f"{name} ({stage.name}): apt lists stay in the layer"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_only_builder_stages_install_compilers(name):
    for stage in dockerfile(name).stages:
        if stage.name == "builder":
            continue
        for command in stage.all("RUN"):
            if "apt-get install" in command:
                assert not COMPILERS.search(command), f"{name} ({stage.name}) installs a compiler"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_and_target_stages_run_as_an_unprivileged_user(name):
    parsed = dockerfile(name)
    targets = {parsed.stages[-1]}
    for stack in STACKS:
        for service in services_of(merged_stack(stack)).values():
            build = service.get("build")
            if isinstance(build, dict) and build.get("target"):
                path = (REPO_ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve()
                if path == (REPO_ROOT / name).resolve():
                    targets.add(parsed.stage(build["target"]))
    for stage in targets:
        assert not is_root_user(parsed.effective(stage, "USER")), f"{name}: stage {stage.name} runs as root"


# --- deployed images -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DEPLOYED)
def test_the_default_build_is_the_production_stage(name):
    parsed = dockerfile(name)
    assert parsed.stages[-1].name == "production", f"{name}: `docker build` without --target must give production"


@pytest.mark.parametrize("name", DEPLOYED)
def test_the_production_stage_checks_its_health(name):
    parsed = dockerfile(name)
    healthcheck = parsed.effective(parsed.stage("production"), "HEALTHCHECK")
    assert healthcheck and not healthcheck.upper().startswith("NONE"), f"{name}: production has no HEALTHCHECK"


@pytest.mark.parametrize("name", ("backend/Dockerfile", "frontend/Dockerfile"))
def test_the_production_stage_holds_no_build_tools_or_wheels(name):
    parsed = dockerfile(name)
    chain, stage = [], parsed.stage("production")
    while stage is not None:
        chain.append(stage)
        stage = parsed.parent(stage)
    for stage in chain:
        for arguments in stage.all("COPY"):
            assert "wheel" not in arguments.lower(), f"{name} ({stage.name}) copies wheels into the final image"
        for command in stage.all("RUN"):
            assert "pip install" not in command or stage.name == "development", (
                f"{name} ({stage.name}) installs packages in the final image; do it in the builder")
    assert any("--from=builder" in arguments for stage in chain for arguments in stage.all("COPY")), (
        f"{name}: the production image does not take its dependencies from the builder stage")


def test_the_backend_serves_with_gunicorn_and_its_configuration():
    parsed = dockerfile("backend/Dockerfile")
    command = parsed.effective(parsed.stage("production"), "CMD") + (parsed.effective(parsed.stage("production"), "ENTRYPOINT") or "")
    assert "gunicorn" in command and "gunicorn.conf.py" in command


@pytest.mark.parametrize("name", ("backend/Dockerfile", "frontend/Dockerfile"))
def test_the_development_stage_starts_under_debugpy(name):
    parsed = dockerfile(name)
    stage = parsed.stage("development")
    assert stage is not None, f"{name} has no development stage"
    command = parsed.effective(stage, "CMD")
    assert '"debugpy"' in command and '"--listen"' in command
    installs = [run for run in stage.all("RUN") if re.search(r"pip3? install[^&;]*\bdebugpy\b", run)]
    assert installs and all("--constraint" in run for run in installs), (
        f"{name}: debugpy is not installed with the repository's constraints")
    assert re.search(r"^debugpy==\S+$", (REPO_ROOT / "constraints.txt").read_text(), flags=re.M), (
        "constraints.txt does not pin debugpy")


def test_the_frontend_reads_st_login_settings_only_from_its_docker_secret():
    parsed = dockerfile("frontend/Dockerfile")
    environment = " ".join(parsed.effective(parsed.stage("production"), "ENV").split())
    assert "STREAMLIT_SECRETS_FILES=/run/secrets/dashboard_auth.toml" in environment
    for stack in STACKS:
        frontend = services_of(merged_stack(stack))["frontend"]
        targets = [entry.get("target") for entry in frontend["secrets"] if isinstance(entry, dict)]
        assert "dashboard_auth.toml" in targets, stack


# --- the build context ---------------------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern:
    parts = []
    for piece in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        if piece in ("**", "**/"):
            parts.append("(?:.*/)?" if piece == "**/" else ".*")
        elif piece == "*":
            parts.append("[^/]*")
        elif piece == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts) + "(?:/.*)?$")


def excluded_from_context(path: str) -> bool:
    """Whether Docker leaves `path` (relative to the repository root) out of the build context."""
    excluded = False
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        if _pattern_regex(pattern.lstrip("!")).match(path):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "path",
    [".git/config", ".venv/bin/python", ".env", "secrets/app_database_password", "sandbox/secrets/dashboard_auth.toml",
     "sandbox/certs/server.key", "frontend/.streamlit/secrets.toml", "backend/drift_backend/__pycache__/x.pyc",
     "client/build/lib/drift_monitor/__init__.py", ".run/database/x"],
)
def test_the_build_context_leaves_out_secrets_and_local_state(path):
    assert excluded_from_context(path), f"{path} would be sent to the Docker daemon"


@pytest.mark.parametrize("name", ROOT_CONTEXT_DOCKERFILES)
def test_copied_sources_exist_and_reach_the_build_context(name):
    for stage in dockerfile(name).stages:
        for arguments in stage.all("COPY"):
            if "--from=" in arguments:
                continue
            words = [word for word in arguments.split() if not word.startswith("--")]
            for source in words[:-1]:
                relative = source.rstrip("/")
                assert (REPO_ROOT / relative).exists(), f"{name}: COPY {source} does not exist"
                assert not excluded_from_context(relative), f"{name}: COPY {source} is excluded by .dockerignore"


def requirement_references(path: Path) -> list[tuple[str, bool]]:
    """Local paths a requirements file refers to: (path, is_a_requirements_file)."""
    references = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        option = re.match(r"^(-r|--requirement|-c|--constraint)\s+(\S+)", line)
        if option:
            references.append((option.group(2), True))
            continue
        editable = re.match(r"^(?:-e|--editable)\s+(\S+)", line)
        target = editable.group(1) if editable else line
        if target.startswith(("./", "../", "/")):
            references.append((target, False))
    return references


@pytest.mark.parametrize("name", ROOT_CONTEXT_DOCKERFILES)
def test_pip_finds_every_file_its_requirements_refer_to(name):
    """`pip install -r/-c` in a stage needs each file those requirements name, copied there beforehand."""
    parsed = dockerfile(name)
    for stage in parsed.stages:
        parent = parsed.parent(stage)
        workdir, copied = (parent and parsed.effective(parent, "WORKDIR")) or "/", {}
        for keyword, arguments in stage.instructions:
            if keyword == "WORKDIR":
                workdir = posixpath.join(workdir, arguments)
            elif keyword == "COPY" and "--from=" not in arguments:
                *sources, destination = [word for word in arguments.split() if not word.startswith("--")]
                destination = posixpath.join(workdir, destination)
                for source in sources:
                    # COPY file dest → dest; COPY file dir/ → dir/file; COPY dir/ dir/ → the folder's content.
                    if not destination.endswith("/"):
                        target = destination
                    elif not source.endswith("/"):
                        target = posixpath.join(destination, posixpath.basename(source))
                    else:
                        target = destination.rstrip("/")
                    copied[posixpath.normpath(target)] = source.rstrip("/")
            elif keyword == "RUN":
                for pip in re.findall(r"pip3? install[^&;]*", arguments):
                    for requirements in re.findall(r"(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)", pip):
                        _check_requirements(name, stage, copied,
                                            posixpath.normpath(posixpath.join(workdir, requirements)))


def _check_requirements(name, stage, copied: dict[str, str], container_path: str) -> None:
    source = copied.get(container_path)
    assert source, f"{name} ({stage.name}): pip reads {container_path}, which no earlier COPY put there"
    for reference, is_requirements in requirement_references(REPO_ROOT / source):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(container_path), reference))
        assert any(target == path or target.startswith(path + "/") for path in copied), (
            f"{name} ({stage.name}): {source} refers to {reference}, which is not copied to {target} before pip runs")
        if is_requirements:
            _check_requirements(name, stage, copied, target)


def test_dockerignore_matching():
    assert _pattern_regex("**/__pycache__").match("a/b/__pycache__/c.pyc")
    assert _pattern_regex("secrets").match("secrets/x")
    assert not _pattern_regex("secrets").match("sandbox/secrets/x")
    assert not _pattern_regex("docs").match("docsy/x")


def test_the_backup_image_is_built_from_its_own_folder():
    folder = REPO_ROOT / "deploy" / "backup"
    for stage in dockerfile("deploy/backup/Dockerfile").stages:
        for arguments in stage.all("COPY"):
            words = [word for word in arguments.split() if not word.startswith("--")]
            for source in words[:-1]:
                assert (folder / source).is_file(), f"deploy/backup/Dockerfile: COPY {source} is not in {folder}"
    assert Path(folder / "backup.sh").stat().st_mode & 0o111, "backup.sh is not executable"
