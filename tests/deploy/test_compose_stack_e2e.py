"""The test stack, built and run by Docker Compose exactly as the documentation says, in a project of its own:
tests/stack/ through Traefik against the production images. Needs a Docker engine and Compose v2; skipped
(with the reason) without them. Takes minutes: it builds every image."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from stack_files import REPO_ROOT

from sandbox.database import docker_engine_answers

pytestmark = pytest.mark.docker

COMPOSE = ["docker", "compose", "-f", "compose.yml", "-f", "compose.test.yml"]
#: Building the images from scratch on a 2-core machine, then the tests (one holds a WebSocket 70 s).
BUDGET_SECONDS = 1800


def why_compose_cannot_run() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    if not docker_engine_answers():
        return "no Docker engine answers"
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        return "Docker Compose v2 (`docker compose`) is not installed"
    return None


@pytest.fixture(scope="module")
def project():
    reason = why_compose_cannot_run()
    if reason:
        pytest.skip(f"{reason}: the test stack runs in containers")
    name = f"drift-monitoring-e2e-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run([*COMPOSE, "-p", name, "down", "--volumes", "--remove-orphans", "--timeout", "20"],
                   cwd=REPO_ROOT, capture_output=True, check=False, timeout=300)


@pytest.mark.timeout(BUDGET_SECONDS + 120)
def test_the_stack_passes_its_end_to_end_tests_through_traefik(project):
    # Every image first: `run --build` alone may reuse a stale image of a dependency.
    build = subprocess.run([*COMPOSE, "-p", project, "build"], cwd=REPO_ROOT, capture_output=True, text=True,
                           check=False, timeout=BUDGET_SECONDS)
    assert build.returncode == 0, f"the images do not build:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    run = subprocess.run([*COMPOSE, "-p", project, "run", "--build", "--rm", "testing"], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=False, timeout=BUDGET_SECONDS)
    if run.returncode != 0:
        logs = subprocess.run([*COMPOSE, "-p", project, "logs", "--no-color", "--tail", "40"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
        pytest.fail(f"the test stack failed (exit {run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}\n"
                    f"--- service logs ---\n{logs.stdout[-8000:]}")
    assert " passed" in run.stdout and " failed" not in run.stdout, run.stdout[-3000:]
