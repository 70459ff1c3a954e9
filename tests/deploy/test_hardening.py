"""Security issue 11 (deployment and dashboard), checked on the files as Compose, Docker and Traefik read
them: the database past MongoBleed, containers without privileges, no auto-loaded development override,
the dashboard's API calls inside the rate limit, production settings that cannot be forgotten, and a
Content-Security-Policy that Streamlit works under. Each check has a case of the broken file it catches."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from stack_files import (
    REPO_ROOT,
    STACKS,
    command_list,
    environment_of,
    flag_value,
    load_compose,
    merged_stack,
    parse_dockerfile,
    published_ports,
    services_of,
)
from test_reverse_proxy import Proxy

#: CVE-2025-14847 ("MongoBleed"): the first fixed version of each affected MongoDB series
#: (MongoDB's advisory SERVER-115508 and the CVE record). Series not listed (4.2 and older, 8.1) have no fix.
MONGOBLEED_FIXED = {(8, 2): (8, 2, 3), (8, 0): (8, 0, 17), (7, 0): (7, 0, 28), (6, 0): (6, 0, 27),
                    (5, 0): (5, 0, 32), (4, 4): (4, 4, 30)}
#: Services of compose.yml (all deployed); sandbox-only services of the dev/test files are not.
DEPLOYED_SERVICES = tuple(services_of(load_compose("compose.yml")))
#: What a service may add back after cap_drop: ALL (nothing, today).
ALLOWED_CAPABILITIES: dict[str, set[str]] = {}


def mongobleed_problem(image: str) -> str | None:
    """Why a mongo image reference is vulnerable to CVE-2025-14847, or None."""
    tag = image.partition("@")[0].rsplit(":", 1)[-1]
    version = re.match(r"(\d+)\.(\d+)\.(\d+)", tag)
    if not version:
        return f"{image}: no x.y.z version to check"
    numbers = tuple(map(int, version.groups()))
    fixed = MONGOBLEED_FIXED.get(numbers[:2])
    if fixed is None:
        return f"{image}: the {numbers[0]}.{numbers[1]} series has no fix for CVE-2025-14847"
    if numbers < fixed:
        return f"{image}: vulnerable to CVE-2025-14847 (fixed in {'.'.join(map(str, fixed))})"
    return None


@pytest.mark.parametrize(("image", "vulnerable"), [
    ("mongo:8.0.4", True), ("mongo:8.0.16", True), ("mongo:8.0.17", False), ("mongo:8.0.28", False),
    ("mongo:7.0.27", True), ("mongo:7.0.28", False), ("mongo:8.2.2", True), ("mongo:8.2.3", False),
    ("mongo:8.1.2", True), ("mongo:4.2.25", True), ("mongo:8.0.28@sha256:" + "0" * 64, False),
])
def test_mongobleed_check(image, vulnerable):
    assert (mongobleed_problem(image) is not None) is vulnerable


def _mongo_images() -> dict[str, str]:
    found = {}
    for stack in STACKS:
        image = services_of(merged_stack(stack))["database"]["image"]
        found[f"{stack} database"] = image
    backup = parse_dockerfile(REPO_ROOT / "deploy" / "backup" / "Dockerfile")
    found["backup image"] = backup.external_image(backup.stages[0])
    return found


def test_the_database_and_its_tools_are_past_mongobleed():
    images = _mongo_images()
    problems = [f"{where}: {problem}" for where, image in images.items() if (problem := mongobleed_problem(image))]
    assert not problems, problems
    # mongodump must match the server it dumps.
    assert len({image.partition("@")[0] for image in images.values()}) == 1, images


def test_the_database_does_not_offer_zlib_compression():
    for stack in STACKS:
        command = command_list(services_of(merged_stack(stack))["database"])
        compressors = flag_value(command, "--networkMessageCompressors")
        assert compressors is not None and "zlib" not in compressors.split(","), (stack, command)


# --- every deployed service: no privileges, read-only, limited ------------------------------------------------


def _image_user(service: dict) -> str | None:
    build = service.get("build")
    if not isinstance(build, dict):
        return None
    dockerfile = parse_dockerfile(REPO_ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile"))
    stage = dockerfile.stage(build["target"]) if build.get("target") else dockerfile.stages[-1]
    return dockerfile.effective(stage, "USER")


def hardening_problems(name: str, service: dict) -> list[str]:
    problems = []
    if "ALL" not in [str(cap).upper() for cap in service.get("cap_drop") or ()]:
        problems.append("does not drop all capabilities (cap_drop: [ALL])")
    extra = {str(cap).upper() for cap in service.get("cap_add") or ()} - ALLOWED_CAPABILITIES.get(name, set())
    if extra:
        problems.append(f"adds capabilities {sorted(extra)}")
    if service.get("privileged"):
        problems.append("is privileged")
    if "no-new-privileges:true" not in (service.get("security_opt") or ()):
        problems.append("allows new privileges (security_opt: no-new-privileges:true)")
    if service.get("read_only") is not True:
        problems.append("has a writable root filesystem (read_only: true)")
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if not (service.get("mem_limit") or limits.get("memory")):
        problems.append("has no memory limit")
    if not (service.get("cpus") or limits.get("cpus")):
        problems.append("has no CPU limit")
    if not (service.get("pids_limit") or limits.get("pids")):
        problems.append("has no process limit")
    user = str(service.get("user") or _image_user(service) or "")
    if user.split(":")[0] in ("", "0", "root"):
        problems.append("runs as root")
    return problems


@pytest.mark.parametrize("stack", tuple(STACKS))
@pytest.mark.parametrize("name", DEPLOYED_SERVICES)
def test_every_deployed_service_runs_without_privileges(stack, name):
    service = services_of(merged_stack(stack))[name]
    problems = hardening_problems(name, service)
    assert not problems, f"{stack} {name}: " + "; ".join(problems)


def test_the_hardening_check_catches_a_default_service():
    problems = hardening_problems("x", {"image": "traefik:v3.6.7"})
    assert len(problems) == 7 and "runs as root" in problems
    assert hardening_problems("x", {"cap_drop": ["ALL"], "cap_add": ["NET_ADMIN"], "security_opt":
                                    ["no-new-privileges:true"], "read_only": True, "mem_limit": "1g", "cpus": 1,
                                    "pids_limit": 10, "user": "10001"}) == ["adds capabilities ['NET_ADMIN']"]


def test_traefik_runs_unprivileged_and_still_serves_80_and_443():
    for stack in STACKS:
        proxy = Proxy(stack)
        user = str(proxy.service.get("user") or _image_user(proxy.service) or "")
        assert user.split(":")[0] not in ("", "0", "root"), f"{stack}: Traefik runs as root"
        low_ports = [address for address in proxy.entrypoints().values() if int(address.rsplit(":", 1)[1]) < 1024]
        if low_ports:
            # Allowed without root only in the container's own network namespace.
            assert str((proxy.service.get("sysctls") or {}).get("net.ipv4.ip_unprivileged_port_start")) == "0", (
                f"{stack}: Traefik binds {low_ports} as a non-root user without ip_unprivileged_port_start=0")
    production = {target: published for _, published, target, _ in published_ports(Proxy("production").service)}
    assert production == {"80": "80", "443": "443"}
    # A new ACME volume takes the owner of the image's folder: it must be Traefik's user.
    dockerfile = (REPO_ROOT / "reverse-proxy" / "Dockerfile").read_text()
    assert re.search(r"chown 65532:65532 /letsencrypt", dockerfile) and "USER 65532" in dockerfile


# --- no development override that Compose loads by itself -------------------------------------------------------


def test_no_file_compose_reads_by_itself_holds_development_settings():
    for name in ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                 "docker-compose.override.yaml"):
        assert not (REPO_ROOT / name).exists(), f"{name} is read by every plain `docker compose up`"
    assert (REPO_ROOT / "compose.dev.yml").is_file()


def _tracked_text_files() -> list[Path]:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    return [REPO_ROOT / name for name in listed if not name.startswith("CHANGELOG")
            and name.endswith((".md", ".yml", ".yaml", ".toml", ".py", ".sh", "Makefile", ".sample"))]


def test_nothing_refers_to_the_old_override_as_the_way_to_run():
    offenders = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            # Allowed: the sentences that say why there is no such file.
            if "compose.override" in line and "override.yml" in line and not re.search(
                    r"no `?compose\.override|not called compose\.override|compose\.override\.yml\", \"compose\.override",
                    line) and path.name != Path(__file__).name:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_the_readme_and_docs_give_the_explicit_commands():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    docs = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    production = "docker compose -f compose.yml -f compose.prod.yml"
    development = "docker compose -f compose.yml -f compose.dev.yml up"
    for text in (readme, docs):
        assert production in text and development in text
    # A bare `docker compose up` is never offered as a command.
    for text in (readme, docs):
        assert not re.search(r"^\s*(\S+\s*&&\s*)?docker compose up\b", text, flags=re.MULTILINE)


def test_debuggers_and_other_development_ports_listen_on_localhost_only():
    development = services_of(merged_stack("development"))
    debug_ports = {"backend": "5678", "frontend": "5679"}
    for name, port in debug_ports.items():
        published = {target: host_ip for host_ip, _, target, _ in published_ports(development[name])}
        assert published.get(port) == "127.0.0.1", f"{name}'s debugger is published as {published}"
    for name, service in development.items():
        for host_ip, published, target, _ in published_ports(service):
            assert host_ip == "127.0.0.1", f"development {name} publishes {published}:{target} on every interface"


# --- the dashboard's API calls pass the rate limit ----------------------------------------------------------------


@pytest.mark.parametrize("stack", tuple(STACKS))
@pytest.mark.parametrize("caller", ["frontend", "detector"])
def test_the_dashboard_calls_the_api_through_a_rate_limited_router(stack, caller):
    proxy = Proxy(stack)
    url = environment_of(services_of(proxy.config)[caller])["DRIFT_MONITOR_URL"]
    match = re.match(r"http://([^:/]+):(\d+)$", url)
    assert match and match.group(1) == "reverse-proxy", f"{stack}: the {caller} calls {url}, around Traefik"
    entrypoint = next(name for name, address in proxy.entrypoints().items() if address == f":{match.group(2)}")
    assert entrypoint not in ("web", "websecure", "ping")
    published = {target for _, _, target, _ in published_ports(proxy.service)}
    assert match.group(2) not in published, f"{stack}: the internal entry point is published"

    public = proxy.routers[proxy.route("websecure", proxy.domain, "/api/v1/experiment")]
    [public_limit] = [proxy.middlewares[m]["rateLimit"] for m in public["middlewares"] if "rateLimit" in proxy.middlewares[m]]
    for path in ("/api/v1/experiment", "/api/v1/experiment/search", "/api/health"):
        router = proxy.routers[proxy.route(entrypoint, "reverse-proxy", path)]
        assert router["service"] == "backend"
        limits = [proxy.middlewares[m]["rateLimit"] for m in router.get("middlewares", [])
                  if "rateLimit" in proxy.middlewares[m]]
        assert limits, f"{stack}: the dashboard's {path} is not rate-limited"
        assert {key: limits[0][key] for key in ("average", "period", "burst")} == \
            {key: public_limit[key] for key in ("average", "period", "burst")}
        # Keyed per user: all dashboard requests come from one container address.
        assert limits[0].get("sourceCriterion", {}).get("requestHeaderName") == "Authorization"
    # The internal entry point serves the API only, not the dashboard.
    assert proxy.route(entrypoint, "reverse-proxy", "/") is None


# --- production settings that cannot be forgotten -------------------------------------------------------------


def test_the_environment_setting_of_each_stack():
    expected = {"base": "production", "production": "production", "test": "production", "development": "development"}
    for stack, environment in expected.items():
        backend = environment_of(services_of(merged_stack(stack))["backend"])
        assert backend["APP_ENVIRONMENT"] == environment, stack
        if stack != "base":
            assert backend["APP_TOKEN_AUDIENCE"], f"{stack}: tokens of any audience are accepted"
    production = services_of(load_compose("compose.prod.yml"))["backend"]["environment"]
    assert production["APP_TOKEN_AUDIENCE"].startswith("${APP_TOKEN_AUDIENCE:?")


# --- the dashboard: cookies and Content-Security-Policy -----------------------------------------------------------


def test_the_dashboard_image_serves_through_the_cookie_policy():
    dockerfile = parse_dockerfile(REPO_ROOT / "frontend" / "Dockerfile")
    assert "frontend/server.py" in dockerfile.effective(dockerfile.stage("production"), "CMD")
    for stack in ("base", "production", "test"):
        frontend = environment_of(services_of(merged_stack(stack))["frontend"])
        assert frontend["DRIFT_DASHBOARD_SECURE_COOKIES"] == "true"
        assert 60 <= int(frontend["DRIFT_DASHBOARD_LOGIN_MAX_AGE"]) <= 24 * 3600


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def streamlit_inline_script_hashes() -> set[str]:
    import streamlit

    index = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    return {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(r"<script>(.*?)</script>", index, flags=re.DOTALL)}


def csp_problems(directives: dict[str, list[str]], domain: str, inline_hashes: set[str]) -> list[str]:
    problems = []
    if directives.get("default-src") != ["'self'"]:
        problems.append("default-src is not 'self' alone")
    scripts = directives.get("script-src", [])
    for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        if unsafe in scripts:
            problems.append(f"script-src allows {unsafe}")
    missing = inline_hashes - set(scripts)
    if missing:
        problems.append(f"script-src lacks the hash of Streamlit's inline script(s) {sorted(missing)}")
    if "'unsafe-inline'" not in directives.get("style-src", []):
        problems.append("style-src blocks Streamlit's inline styles")
    connect = directives.get("connect-src", [])
    if "'self'" not in connect or f"wss://{domain}" not in connect:
        problems.append("connect-src blocks the WebSocket")
    if not {"data:", "blob:"} <= set(directives.get("img-src", [])):
        problems.append("img-src blocks plotly's data:/blob: images")
    if directives.get("frame-ancestors") not in (["'self'"], ["'none'"]):
        problems.append("frame-ancestors missing")
    if directives.get("object-src") != ["'none'"]:
        problems.append("object-src is not 'none'")
    if not directives.get("base-uri"):
        problems.append("base-uri missing")
    return problems


def test_the_csp_check_catches_a_weak_policy():
    weak = csp_directives("default-src *; script-src 'self' 'unsafe-inline' 'unsafe-eval'")
    assert len(csp_problems(weak, "x.org", {"'sha256-abc'"})) >= 8


@pytest.mark.parametrize("stack", tuple(STACKS))
def test_the_dashboard_sends_a_content_security_policy_streamlit_works_under(stack):
    proxy = Proxy(stack)
    dashboard = proxy.routers[proxy.route("websecure", proxy.domain, "/")]
    headers = {}
    for name in dashboard["middlewares"]:
        headers.update(proxy.middlewares[name].get("headers", {}))
    assert headers.get("contentTypeNosniff") is True
    assert headers.get("referrerPolicy") and headers.get("customFrameOptionsValue") == "SAMEORIGIN"
    policy = headers.get("contentSecurityPolicy")
    assert policy, f"{stack}: the dashboard router sends no Content-Security-Policy"
    problems = csp_problems(csp_directives(policy), proxy.domain, streamlit_inline_script_hashes())
    assert not problems, f"{stack}: " + "; ".join(problems)
    # Swagger UI (/api/docs) runs inline scripts: the dashboard's policy must not reach the API router.
    api = proxy.routers[proxy.route("websecure", proxy.domain, "/api/docs")]
    assert not any("contentSecurityPolicy" in proxy.middlewares[m].get("headers", {}) for m in api["middlewares"])


# --- digests --------------------------------------------------------------------------------------------------------

FAKE_DOCKER = """#!/bin/sh
# Stand-in for `docker buildx imagetools inspect IMAGE --format ...`: a digest derived from the name.
if [ "$1" = buildx ] && [ "$2" = version ]; then exit 0; fi
if [ "$1" = buildx ] && [ "$2" = imagetools ] && [ "$3" = inspect ]; then
    printf '"sha256:%s"\\n' "$(printf '%s' "$4" | sha256sum | cut -d' ' -f1)"
    exit 0
fi
echo "unexpected: docker $*" >&2
exit 2
"""


def test_pin_digests_rewrites_every_image_to_tag_and_digest(tmp_path):
    if shutil.which("sha256sum") is None:
        pytest.skip("needs sha256sum")
    copy = tmp_path / "repo"
    for name in ("compose.yml", "compose.prod.yml", "compose.dev.yml", "compose.test.yml", "deploy/pin-digests.sh",
                 "backend/Dockerfile", "frontend/Dockerfile", "detector/Dockerfile", "tests/Dockerfile",
                 "deploy/backup/Dockerfile", "reverse-proxy/Dockerfile"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, copy / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    script = copy / "deploy" / "pin-digests.sh"

    check = subprocess.run(["sh", str(script), "--check"], env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "not pinned: mongo:8.0.28" in check.stdout, check
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, text=True)
    assert subprocess.run(["sh", str(script), "--check"], env=env, capture_output=True).returncode == 0

    digest = "sha256:" + hashlib.sha256(b"mongo:8.0.28").hexdigest()
    assert f"image: mongo:8.0.28@{digest}\n" in (copy / "compose.yml").read_text()
    assert f"FROM mongo:8.0.28@{digest} AS production" in (copy / "deploy" / "backup" / "Dockerfile").read_text()
    traefik = parse_dockerfile(copy / "reverse-proxy" / "Dockerfile")
    assert traefik.external_image(traefik.stages[0]).startswith("traefik:v3.6.7@sha256:")
    for name in ("backend/Dockerfile", "frontend/Dockerfile", "tests/Dockerfile", "detector/Dockerfile"):
        parsed = parse_dockerfile(copy / name)
        assert parsed.stages[0].base.startswith("python:3.11.14-slim-bookworm@sha256:"), name
        # Stages built on stages are left alone.
        assert all("@" not in stage.base for stage in parsed.stages[1:]), name
    # Running again changes nothing.
    before = (copy / "compose.yml").read_text()
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
    assert (copy / "compose.yml").read_text() == before
