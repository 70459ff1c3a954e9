"""Traefik as each environment runs it: the static flags from the compose files, the dynamic files they
mount, and what that means for a request: which service answers it, through which middlewares, over
which TLS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stack_files import (
    REPO_ROOT,
    STACKS,
    command_list,
    deep_merge,
    environment_of,
    flag_value,
    load_traefik_file,
    merged_stack,
    mount_target,
    published_ports,
    services_of,
    template_variables,
)

DYNAMIC_FOLDER = REPO_ROOT / "reverse-proxy" / "dynamic"
ONE_YEAR = 365 * 24 * 3600
#: TLS 1.2 suites with forward secrecy and an AEAD cipher (Go's names).
STRONG_SUITES = re.compile(r"^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$")
#: Middleware types that keep a WebSocket upgrade working (they only add response headers).
WEBSOCKET_SAFE_MIDDLEWARES = {"headers"}


class Proxy:
    """Traefik in one environment: its flags, its environment and the union of its dynamic files."""

    def __init__(self, stack: str):
        self.stack = stack
        self.config = merged_stack(stack)
        self.service = services_of(self.config)["reverse-proxy"]
        self.flags = command_list(self.service)
        self.environ = environment_of(self.service)
        self.directory = flag_value(self.flags, "--providers.file.directory")
        self.mounts = {mount_target(entry): entry for entry in self.service.get("volumes") or ()}
        self.files = {}
        for target, entry in self.mounts.items():
            if isinstance(entry, str) and target.startswith(self.directory.rstrip("/") + "/"):
                self.files[target] = REPO_ROOT / entry.split(":")[0]
        self.dynamic: dict = {}
        for path in self.files.values():
            self.dynamic = deep_merge(self.dynamic, load_traefik_file(path, self.environ))

    @property
    def domain(self) -> str:
        return self.environ["APP_DOMAIN_NAME"]

    def section(self, *keys) -> dict:
        node = self.dynamic
        for key in keys:
            node = (node or {}).get(key) or {}
        return node

    @property
    def routers(self) -> dict:
        return self.section("http", "routers")

    @property
    def middlewares(self) -> dict:
        return self.section("http", "middlewares")

    def entrypoints(self) -> dict[str, str]:
        found = {}
        for flag in self.flags:
            match = re.match(r"--entrypoints\.([^.]+)\.address=(.*)", flag, flags=re.IGNORECASE)
            if match:
                found[match.group(1)] = match.group(2)
        return found

    def route(self, entrypoint: str, host: str, path: str) -> str | None:
        """The router Traefik picks for a request: the highest priority among those whose rule matches."""
        candidates = [
            (router.get("priority", len(router["rule"])), name)
            for name, router in self.routers.items()
            if entrypoint in router.get("entryPoints", self.entrypoints())
            and rule_matches(router["rule"], host, path)
        ]
        return max(candidates)[1] if candidates else None


@pytest.fixture(scope="module", params=tuple(STACKS))
def proxy(request) -> Proxy:
    return Proxy(request.param)


@pytest.fixture(scope="module")
def production() -> Proxy:
    return Proxy("production")


# --- Traefik's rule language, the part the routers use -------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<matcher>Host|Path|PathPrefix)\(`(?P<argument>[^`]*)`\)|(?P<operator>&&|\|\||!|\(|\)))")


def rule_matches(rule: str, host: str, path: str) -> bool:
    tokens, position = [], 0
    while position < len(rule.rstrip()):
        match = _TOKEN.match(rule, position)
        if match is None:
            raise ValueError(f"unsupported rule syntax at {rule[position:]!r} in {rule!r}")
        tokens.append(match)
        position = match.end()

    def expression(index):
        value, index = conjunction(index)
        while index < len(tokens) and tokens[index].group("operator") == "||":
            right, index = conjunction(index + 1)
            value = value or right
        return value, index

    def conjunction(index):
        value, index = unary(index)
        while index < len(tokens) and tokens[index].group("operator") == "&&":
            right, index = unary(index + 1)
            value = value and right
        return value, index

    def unary(index):
        token = tokens[index]
        if token.group("operator") == "!":
            value, index = unary(index + 1)
            return not value, index
        if token.group("operator") == "(":
            value, index = expression(index + 1)
            assert tokens[index].group("operator") == ")", rule
            return value, index + 1
        matcher, argument = token.group("matcher"), token.group("argument")
        if matcher == "Host":
            return host.lower() == argument.lower(), index + 1
        if matcher == "Path":
            return path == argument, index + 1
        return path.startswith(argument), index + 1

    value, index = expression(0)
    assert index == len(tokens), f"trailing tokens in {rule!r}"
    return value


@pytest.mark.parametrize(
    ("rule", "host", "path", "matches"),
    [
        ("Host(`a.org`) && (Path(`/api`) || PathPrefix(`/api/`))", "a.org", "/api", True),
        ("Host(`a.org`) && (Path(`/api`) || PathPrefix(`/api/`))", "a.org", "/apiary", False),
        ("Host(`a.org`) && (Path(`/api`) || PathPrefix(`/api/`))", "b.org", "/api/x", False),
        ("PathPrefix(`/`) && !Host(`a.org`)", "b.org", "/x", True),
    ],
)
def test_rule_evaluation(rule, host, path, matches):
    assert rule_matches(rule, host, path) is matches


# --- files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DYNAMIC_FOLDER.glob("*.yml")), ids=lambda path: path.name)
def test_every_dynamic_file_parses_and_uses_only_known_templates(path: Path):
    document = load_traefik_file(path, {"APP_DOMAIN_NAME": "drift.example.org"})
    assert set(document) <= {"http", "tls", "tcp", "udp"}, f"{path.name}: unknown top-level keys {set(document)}"
    assert template_variables(path.read_text(encoding="utf-8")) <= {"APP_DOMAIN_NAME"}


def test_every_dynamic_file_is_used_by_some_environment():
    used = {path.name for stack in STACKS for path in Proxy(stack).files.values()}
    assert used == {path.name for path in DYNAMIC_FOLDER.glob("*.yml")}


def test_the_file_provider_reads_the_mounted_files(proxy):
    assert proxy.directory, f"{proxy.stack}: no file provider"
    assert flag_value(proxy.flags, "--providers.docker") in (None, "false"), "the Docker provider is on"
    for target, path in proxy.files.items():
        assert path.is_file(), f"{proxy.stack}: {path} (mounted at {target}) does not exist"
    assert proxy.routers, f"{proxy.stack}: the mounted files define no router"


def test_templates_get_their_variables(proxy):
    for path in proxy.files.values():
        for variable in template_variables(path.read_text(encoding="utf-8")):
            assert proxy.environ.get(variable), f"{proxy.stack}: {path.name} needs {variable} in Traefik's environment"


# --- routers, services, middlewares --------------------------------------------------------------------------


def test_routers_point_at_services_middlewares_and_entrypoints_that_exist(proxy):
    services = proxy.section("http", "services")
    compose_services = set(services_of(proxy.config))
    for name, router in proxy.routers.items():
        service = router["service"]
        assert service.endswith("@internal") or service in services, f"{proxy.stack}: {name} → unknown {service}"
        for middleware in router.get("middlewares", []):
            assert middleware in proxy.middlewares, f"{proxy.stack}: {name} uses undefined middleware {middleware}"
        for entrypoint in router.get("entryPoints", []):
            assert entrypoint in proxy.entrypoints(), f"{proxy.stack}: {name} uses undefined entry point {entrypoint}"
        assert "api@internal" != service and "dashboard@internal" != service, "Traefik's API must not be routed"
    for name, service in services.items():
        for server in service["loadBalancer"]["servers"]:
            host = re.match(r"https?://([^:/]+)", server["url"]).group(1)
            assert host in compose_services, f"{proxy.stack}: service {name} points at {host}, not a compose service"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api", "backend"),
        ("/api/health", "backend"),
        ("/api/docs", "backend"),
        ("/api/v1/openapi.json", "backend"),
        ("/api/v1/experiment/search", "backend"),
        ("/", "frontend"),
        ("/_stcore/stream", "frontend"),
        ("/_stcore/health", "frontend"),
        ("/oauth2callback", "frontend"),
        ("/apiary", "frontend"),
    ],
)
def test_https_requests_reach_the_right_service(proxy, path, service):
    router = proxy.route("websecure", proxy.domain, path)
    assert router is not None, f"{proxy.stack}: nothing answers https://{proxy.domain}{path}"
    assert proxy.routers[router]["service"] == service


def test_other_host_names_get_nothing(proxy):
    assert proxy.route("websecure", "attacker.example.net", "/api/health") is None


@pytest.mark.parametrize("path", ["/", "/api/health", "/.well-known/acme-challenge/x"])
def test_plain_http_only_redirects_to_https(proxy, path):
    for host in (proxy.domain, "anything.example.net"):
        router = proxy.routers[proxy.route("web", host, path)]
        assert router["service"] == "noop@internal"
        [middleware] = [proxy.middlewares[name] for name in router["middlewares"]]
        assert middleware == {"redirectScheme": {"scheme": "https", "permanent": True}}


def test_the_api_is_rate_limited(proxy):
    api = proxy.routers[proxy.route("websecure", proxy.domain, "/api/v1/experiment")]
    limits = [proxy.middlewares[name]["rateLimit"] for name in api["middlewares"] if "rateLimit" in proxy.middlewares[name]]
    assert limits, f"{proxy.stack}: the API router has no rate limit"
    assert limits[0]["average"] > 0 and limits[0].get("burst", 1) >= limits[0]["average"]


def test_nothing_on_the_dashboard_router_can_break_its_websocket(proxy):
    dashboard = proxy.routers[proxy.route("websecure", proxy.domain, "/_stcore/stream")]
    for name in dashboard.get("middlewares", []):
        [kind] = proxy.middlewares[name]
        assert kind in WEBSOCKET_SAFE_MIDDLEWARES, f"{proxy.stack}: {name} ({kind}) on the dashboard router"
        headers = proxy.middlewares[name][kind]
        touched = {header.lower() for header in headers.get("customRequestHeaders", {})}
        assert not touched & {"connection", "upgrade", "host", "origin"}, f"{name} rewrites {touched}"


def test_every_https_router_sends_security_headers(proxy):
    for name, router in proxy.routers.items():
        if "websecure" not in router.get("entryPoints", []):
            continue
        headers = [proxy.middlewares[m]["headers"] for m in router.get("middlewares", []) if "headers" in proxy.middlewares[m]]
        assert headers, f"{proxy.stack}: router {name} sends no security headers"
        merged = {key: value for middleware in headers for key, value in middleware.items()}
        assert merged.get("contentTypeNosniff") is True
        assert merged.get("frameDeny") is True or merged.get("customFrameOptionsValue") in ("DENY", "SAMEORIGIN")
        assert merged.get("referrerPolicy")
        if proxy.stack in ("production", "test", "base"):
            assert merged.get("stsSeconds", 0) >= ONE_YEAR, f"{proxy.stack}: router {name} sends no year-long HSTS"
        else:
            assert not merged.get("stsSeconds"), "development must not pin localhost to HTTPS in browsers"


# --- TLS -----------------------------------------------------------------------------------------------------


def test_tls_options_allow_only_tls_1_2_and_up_with_strong_suites(proxy):
    options = proxy.section("tls", "options", "default")
    assert options.get("minVersion") in ("VersionTLS12", "VersionTLS13")
    assert options.get("sniStrict") is True
    suites = options.get("cipherSuites", [])
    assert suites and all(STRONG_SUITES.match(suite) for suite in suites), suites
    assert flag_value(proxy.flags, "--entryPoints.websecure.http.tls") == "true"


def test_production_certificates_come_from_lets_encrypt(production):
    flags = production.flags
    resolver = flag_value(flags, "--entryPoints.websecure.http.tls.certResolver")
    assert resolver, "the HTTPS entry point has no certificate resolver"
    prefix = f"--certificatesResolvers.{resolver}.acme"
    assert flag_value(flags, f"{prefix}.email"), "no Let's Encrypt account address"
    assert flag_value(flags, f"{prefix}.storage")
    http_challenge = flag_value(flags, f"{prefix}.httpChallenge.entryPoint")
    assert flag_value(flags, f"{prefix}.tlsChallenge") == "true" or http_challenge == "web"
    assert flag_value(flags, f"{prefix}.caServer") in (None, "https://acme-v02.api.letsencrypt.org/directory")
    assert not production.section("tls", "certificates"), "production must not load the local certificate"
    assert "/certs" not in production.mounts


@pytest.mark.parametrize("stack", ["development", "test"])
def test_local_stacks_serve_the_generated_certificate(stack):
    local = Proxy(stack)
    assert flag_value(local.flags, "--entryPoints.websecure.http.tls.certResolver") is None
    certificates = local.section("tls", "certificates")
    assert certificates, f"{stack}: no certificate"
    for certificate in certificates:
        for key in ("certFile", "keyFile"):
            assert any(certificate[key].startswith(target + "/") for target in local.mounts), (
                f"{stack}: {certificate[key]} is not in a mounted folder")


# --- what is exposed -----------------------------------------------------------------------------------------


def test_no_api_dashboard_or_docker_socket(proxy):
    for flag in proxy.flags:
        name, _, value = flag.partition("=")
        if name.lower().startswith("--api"):
            assert value.lower() == "false", f"{proxy.stack}: {flag} exposes Traefik's API or dashboard"
    for entry in proxy.service.get("volumes") or ():
        assert "docker.sock" not in str(entry), f"{proxy.stack}: the Docker socket is mounted"


def test_only_web_and_websecure_are_published(proxy):
    addresses = proxy.entrypoints()
    published = {target for _, _, target, _ in published_ports(proxy.service)}
    allowed = {addresses["web"].lstrip(":"), addresses["websecure"].lstrip(":")}
    assert published <= allowed, f"{proxy.stack} publishes {published - allowed} (ping or another entry point)"


def test_the_health_check_asks_the_ping_entry_point(proxy):
    healthcheck = " ".join(proxy.service["healthcheck"]["test"])
    ping_entrypoint = flag_value(proxy.flags, "--ping.entryPoint") or "traefik"
    assert flag_value(proxy.flags, "--ping") == "true"
    assert f"--ping.entryPoint={ping_entrypoint}" in healthcheck
    assert f"--entryPoints.{ping_entrypoint}.address={proxy.entrypoints()[ping_entrypoint]}" in healthcheck
