"""The compose files, alone and merged per environment, against the Compose Specification and the promises
users rely on: what production exposes, how the database is reached, where secrets come from, what starts
when, and that development and tests are wired consistently."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from stack_files import (
    BASE_FILE,
    REPO_ROOT,
    SAMPLE_ENVIRONMENT,
    STACKS,
    MissingVariable,
    UniqueKeyLoader,
    as_mapping,
    command_list,
    documented_variables,
    environment_of,
    flag_value,
    interpolate,
    is_one_shot,
    load_compose,
    merge_compose,
    merged_stack,
    mount_target,
    names_mapping,
    parse_dockerfile,
    published_ports,
    raw_stack,
    secret_source,
    secret_target,
    services_of,
    variables_used,
)

SCHEMA_PATH = Path(__file__).with_name("compose-spec.json")
OVERRIDE_FILES = ("compose.dev.yml", "compose.prod.yml", "compose.test.yml")
COMPOSE_FILES = (BASE_FILE, *OVERRIDE_FILES)
DATABASE_SERVICE = "database"
ROOT_SECRET = "database_root_password"
APP_SECRET = "app_database_password"
#: Services that exist for development and tests only; production must not have any of them.
SANDBOX_SERVICES = {"idp", "demo-data", "certificates", "testing"}
ALL_STACKS = tuple(STACKS)


def validator_class_for(schema: dict) -> type:
    """The validator for the schema's declared `$schema`, Draft 7 when none is declared.

    The compose-spec schema declares "https://json-schema.org/draft-07/schema", which jsonschema knows only
    under the canonical "http://json-schema.org/draft-07/schema#" spelling, so both spellings are tried.
    """
    declared = schema.get("$schema")
    if declared is None:
        return jsonschema.Draft7Validator
    bare = declared.rstrip("#")
    swapped = "http://" + bare[len("https://") :] if bare.startswith("https://") else bare
    for candidate in (declared, bare, bare + "#", swapped, swapped + "#"):
        cls = jsonschema.validators.validator_for({"$schema": candidate}, default=None)
        if cls is not None:
            return cls
    raise AssertionError(f"compose-spec.json declares an unknown $schema: {declared!r}")


@pytest.fixture(scope="module")
def compose_validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = validator_class_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def stacks() -> dict[str, dict]:
    return {name: merged_stack(name) for name in STACKS}


def schema_errors(validator, document: dict) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"  {'/'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors]


# --- checks: each returns a list of problems, empty when the files are fine --------------------------------


def image_pin_problem(image: str | None) -> str | None:
    """Why `image` is not pinned to a fixed version, or None when it is."""
    if not image:
        return "has no image"
    if "$" in image:
        return f"image {image!r} takes its version from a variable"
    if "@sha256:" in image:
        return None
    last_part = image.rsplit("/", 1)[-1]  # "registry:5000/mongo" has a port, not a tag
    if ":" not in last_part:
        return f"image {image!r} has no tag"
    tag = last_part.rsplit(":", 1)[1]
    if not tag or tag == "latest":
        return f"image {image!r} is not pinned to a version"
    if not re.search(r"\d+\.\d+\.\d+", tag):
        return f"image {image!r} names a moving tag, not a full version (x.y.z)"
    return None


def published_port_problems(service: dict) -> list[str]:
    problems = []
    if service.get("ports"):
        problems.append(f"publishes ports {service['ports']!r}")
    if service.get("network_mode") == "host":
        problems.append("uses network_mode: host, which exposes every port")
    return problems


def _secret_names(entries) -> list[str]:
    return [secret_source(entry) for entry in entries or ()]


def undeclared_secrets(documents: list[dict]) -> list[str]:
    """Secrets used by services of the merged files that no file declares at top level."""
    declared = set()
    for document in documents:
        declared.update(document.get("secrets") or {})
    problems = []
    for document in documents:
        for name, service in services_of(document).items():
            used = _secret_names(service.get("secrets"))
            build = service.get("build")
            if isinstance(build, dict):
                used += _secret_names(build.get("secrets"))
            problems += [f"service {name!r} uses undeclared secret {secret!r}" for secret in used if secret not in declared]
    return problems


def _named_volume(entry) -> str | None:
    if isinstance(entry, dict):
        return entry.get("source") if entry.get("type", "volume") == "volume" else None
    source, sep, _ = entry.partition(":")
    if not sep or source.startswith((".", "/", "~", "$")):
        return None  # anonymous volume, bind mount, or a path from a variable
    return source


def _bind_source(entry) -> str | None:
    if isinstance(entry, dict):
        return entry.get("source") if entry.get("type") == "bind" else None
    source, sep, _ = entry.partition(":")
    return source if sep and source.startswith((".", "/", "~")) else None


def undeclared_volumes(documents: list[dict]) -> list[str]:
    """Named volumes used by services of the merged files that no file declares at top level."""
    declared = set()
    for document in documents:
        declared.update(document.get("volumes") or {})
    problems = []
    for document in documents:
        for name, service in services_of(document).items():
            for entry in service.get("volumes") or ():
                volume = _named_volume(entry)
                if volume and volume not in declared:
                    problems.append(f"service {name!r} uses undeclared volume {volume!r}")
    return problems


def _referenced_services(service: dict) -> set[str]:
    referenced = set(service.get("depends_on") or ())  # list of names or mapping keyed by name
    referenced.update(link.split(":", 1)[0] for link in service.get("links") or ())
    for entry in service.get("volumes_from") or ():
        kind, _, rest = entry.partition(":")
        if kind == "container":
            continue
        referenced.add(rest.split(":", 1)[0] if kind == "service" else kind)
    for key in ("network_mode", "pid", "ipc"):
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            referenced.add(value.split(":", 1)[1])
    extends = service.get("extends")
    if isinstance(extends, str):
        referenced.add(extends)
    elif isinstance(extends, dict) and "file" not in extends:
        referenced.add(extends["service"])
    return referenced


def unknown_service_problems(base: dict, override: dict) -> list[str]:
    """Services an override names that neither compose.yml nor the override itself defines."""
    base_services = services_of(base)
    known = set(base_services) | set(services_of(override))
    problems = []
    for name, service in services_of(override).items():
        if name not in base_services and not ({"image", "build", "extends"} & set(service)):
            # Most likely a misspelt base service: Compose would create a new service with no image.
            problems.append(f"service {name!r} is not in {BASE_FILE} and has no image or build")
        problems += [f"service {name!r} refers to unknown service {ref!r}" for ref in sorted(_referenced_services(service) - known)]
    return problems


def healthcheck_problems(stack: dict) -> list[str]:
    """Long-running services without a health check, and depends_on conditions that cannot be met."""
    services = services_of(stack)
    problems = []

    def has_healthcheck(name: str) -> bool:
        service = services[name]
        healthcheck = service.get("healthcheck") or {}
        if healthcheck.get("disable") or healthcheck.get("test") in (["NONE"], "NONE"):
            return False
        if healthcheck.get("test"):
            return True
        build = service.get("build")
        if isinstance(build, dict):  # a HEALTHCHECK in the image we build counts too
            dockerfile = parse_dockerfile(REPO_ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile"))
            stage = dockerfile.stage(build["target"]) if build.get("target") else dockerfile.stages[-1]
            return bool(stage and dockerfile.effective(stage, "HEALTHCHECK"))
        return False

    for name, service in services.items():
        if not is_one_shot(service) and not has_healthcheck(name):
            problems.append(f"long-running service {name!r} has no health check")
        for dependency, options in names_mapping(service.get("depends_on")).items():
            condition = (options or {}).get("condition", "service_started")
            if dependency not in services:
                problems.append(f"{name!r} depends on unknown service {dependency!r}")
            elif condition == "service_healthy" and not has_healthcheck(dependency):
                problems.append(f"{name!r} waits for {dependency!r} to be healthy, which has no health check")
            elif condition == "service_completed_successfully" and not is_one_shot(services[dependency]):
                problems.append(f"{name!r} waits for {dependency!r} to complete, but it is a long-running service")
    return problems


# --- each file, and each environment's merged configuration --------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_matches_the_compose_specification(name, compose_validator):
    errors = schema_errors(compose_validator, interpolate(load_compose(name), SAMPLE_ENVIRONMENT))
    assert not errors, f"{name} does not match the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_merged_environment_matches_the_compose_specification(stack, stacks, compose_validator):
    errors = schema_errors(compose_validator, stacks[stack])
    assert not errors, f"{' + '.join(STACKS[stack])} does not match the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize("override", (None, *OVERRIDE_FILES))
def test_every_used_secret_and_volume_is_declared(override):
    documents = [load_compose(BASE_FILE)] + ([load_compose(override)] if override else [])
    problems = undeclared_secrets(documents) + undeclared_volumes(documents)
    assert not problems, f"{BASE_FILE} + {override}: " + "; ".join(problems)


@pytest.mark.parametrize("override", OVERRIDE_FILES)
def test_override_names_only_known_services(override):
    problems = unknown_service_problems(load_compose(BASE_FILE), load_compose(override))
    assert not problems, f"{override}: " + "; ".join(problems)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_every_image_is_pinned(stack, stacks):
    problems = []
    for name, service in services_of(stacks[stack]).items():
        if "build" not in service:
            problem = image_pin_problem(service.get("image"))
            if problem:
                problems.append(f"{name}: {problem}")
    assert not problems, f"{stack}: " + "; ".join(problems)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_long_running_services_have_health_checks_and_dependencies_can_be_met(stack, stacks):
    problems = healthcheck_problems(stacks[stack])
    assert not problems, f"{stack}: " + "; ".join(problems)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_every_dockerfile_and_build_target_exists(stack, stacks):
    problems = []
    for name, service in services_of(stacks[stack]).items():
        build = service.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = REPO_ROOT / build.get("context", ".")
        dockerfile_path = context / build.get("dockerfile", "Dockerfile")
        if not dockerfile_path.is_file():
            problems.append(f"{name}: {dockerfile_path.relative_to(REPO_ROOT)} does not exist")
            continue
        stages = {stage.name for stage in parse_dockerfile(dockerfile_path).stages}
        if build.get("target") and build["target"] not in stages:
            problems.append(f"{name}: {dockerfile_path.relative_to(REPO_ROOT)} has no stage {build['target']!r} "
                            f"(stages: {sorted(filter(None, stages))})")
    assert not problems, f"{stack}: " + "; ".join(problems)


#: Bind-mounted host paths that are generated, not committed: they must be git-ignored and made by a script.
GENERATED_PATHS = {"./sandbox/certs": "sandbox/generate-certs.sh"}


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_every_bind_mounted_file_exists(stack, stacks):
    problems = []
    for name, service in services_of(stacks[stack]).items():
        for entry in service.get("volumes") or ():
            source = _bind_source(entry)
            if source is None:
                continue
            if source in GENERATED_PATHS:
                # Must fail loudly when missing rather than mount an empty folder Docker made.
                if not (isinstance(entry, dict) and entry.get("bind", {}).get("create_host_path") is False):
                    problems.append(f"{name}: generated {source} must be mounted with bind.create_host_path: false")
                continue
            if not (REPO_ROOT / source).exists():
                problems.append(f"{name}: {source} does not exist")
    assert not problems, f"{stack}: " + "; ".join(problems)


def test_generated_paths_are_git_ignored_and_made_by_their_script():
    gitignore = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8")
    for path, script in GENERATED_PATHS.items():
        assert path.removeprefix("./").rstrip("/") + "/" in gitignore.splitlines(), f"{path} is not git-ignored"
        assert (REPO_ROOT / script).is_file()
        assert path.removeprefix("./sandbox/") in (REPO_ROOT / script).read_text(encoding="utf-8")


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_every_compose_variable_is_documented_in_env_sample(stack):
    # Fails until the lead merges the additions listed by the deployment issue into .env.sample.
    missing = sorted(
        name for name in variables_used(raw_stack(stack)) if name not in documented_variables()
    )
    assert not missing, f"{stack}: variables used by the compose files but not documented in .env.sample: {missing}"


# --- production ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", (BASE_FILE, "compose.prod.yml"))
def test_production_does_not_publish_the_database_port(name):
    # Compose appends ports from merged files, so neither file of the production pair may publish any.
    database = services_of(load_compose(name)).get(DATABASE_SERVICE) or {}
    problems = published_port_problems(database)
    assert not problems, f"{name}: {DATABASE_SERVICE} " + "; ".join(problems)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_the_database_is_only_on_internal_networks(stack, stacks):
    config = stacks[stack]
    database = services_of(config)[DATABASE_SERVICE]
    assert not published_port_problems(database), f"{stack}: the database publishes a port"
    networks = names_mapping(database.get("networks"))
    assert networks, f"{stack}: the database is on the default network, which the other services share"
    for network in networks:
        assert (config.get("networks") or {}).get(network, {}).get("internal") is True, (
            f"{stack}: the database's network {network!r} is not internal")


def test_production_publishes_only_the_reverse_proxy_on_80_and_443(stacks):
    for name, service in services_of(stacks["production"]).items():
        ports = published_ports(service)
        if name == "reverse-proxy":
            assert sorted(target for _, _, target, _ in ports) == ["443", "80"]
        else:
            assert not ports, f"production publishes ports of {name!r}: {ports}"


def test_production_has_no_sandbox_service_file_or_value(stacks):
    production = stacks["production"]
    assert not SANDBOX_SERVICES & set(services_of(production))
    assert "sandbox" not in json.dumps(production), "production refers to something under sandbox/"


def test_production_services_restart_unless_stopped(stacks):
    long_running = {name: service for name, service in services_of(stacks["production"]).items()
                    if not is_one_shot(service)}
    assert {"database", "backend", "frontend", "reverse-proxy", "backup"} <= set(long_running)
    for name, service in long_running.items():
        assert service.get("restart") == "unless-stopped", f"production {name!r} does not restart unless stopped"


@pytest.mark.parametrize("variable", ["APP_DOMAIN_NAME", "APP_LETSENCRYPT_EMAIL", "APP_TRUSTED_OP_LIST",
                                      "APP_ADMIN_ENTITLEMENTS", "APP_TOKEN_AUDIENCE"])
def test_production_refuses_to_start_without_its_required_settings(variable):
    environ = {name: value for name, value in SAMPLE_ENVIRONMENT.items() if name != variable}
    with pytest.raises(MissingVariable) as raised:
        merged_stack("production", environ)
    assert raised.value.name == variable
    merged_stack("development", environ)  # development needs none of them


def test_the_backend_never_connects_as_root(stacks):
    for stack, config in stacks.items():
        services = services_of(config)
        database_env = environment_of(services[DATABASE_SERVICE])
        root_user = database_env["MONGO_INITDB_ROOT_USERNAME"]
        for name in ("backend", "backup"):
            env = environment_of(services[name])
            assert env["APP_DATABASE_USERNAME"] and env["APP_DATABASE_USERNAME"] != root_user, (stack, name)
            assert "APP_DATABASE_URI" not in env, f"{stack}: {name} sets a URI, which bypasses the app user"
            assert "APP_DATABASE_PASSWORD" not in env, f"{stack}: {name}'s password belongs in a secret file"
            secrets = _secret_names(services[name].get("secrets"))
            assert APP_SECRET in secrets and ROOT_SECRET not in secrets, (stack, name, secrets)
        users_of_root = [name for name, service in services.items()
                         if ROOT_SECRET in _secret_names(service.get("secrets"))]
        assert users_of_root == [DATABASE_SERVICE], f"{stack}: the root password reaches {users_of_root}"


def test_the_database_init_script_creates_the_user_the_backend_uses(stacks):
    for stack, config in stacks.items():
        services = services_of(config)
        database, backend = services[DATABASE_SERVICE], services["backend"]
        database_env, backend_env = environment_of(database), environment_of(backend)
        for variable in ("APP_DATABASE_NAME", "APP_DATABASE_USERNAME"):
            assert database_env[variable] == backend_env[variable] == environment_of(services["backup"])[variable]
        targets = {mount_target(entry): entry for entry in database.get("volumes") or ()}
        init_scripts = [target for target in targets if target.startswith("/docker-entrypoint-initdb.d/")]
        assert init_scripts, f"{stack}: no init script creates the application user"
        mounted_secrets = {"/run/secrets/" + secret_target(entry) for entry in database.get("secrets") or ()}
        assert database_env["APP_DATABASE_PASSWORD_FILE"] in mounted_secrets
        assert database_env["MONGO_INITDB_ROOT_PASSWORD_FILE"] == f"/run/secrets/{ROOT_SECRET}"
        assert backend_env["APP_SECRETS_DIR"] == "/run/secrets"
        assert backend_env["APP_DATABASE_HOST"] == DATABASE_SERVICE


def _secret_files(config: dict) -> dict[str, str]:
    return {name: spec["file"] for name, spec in (config.get("secrets") or {}).items()}


def test_production_secrets_come_from_secrets_folder_and_are_documented(stacks):
    readme = (REPO_ROOT / "secrets" / "README.md").read_text(encoding="utf-8")
    deployment_doc = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    files = _secret_files(stacks["production"])
    assert files, "production declares no secrets"
    for name, file in files.items():
        path = Path(file)
        assert path.parent.as_posix() == "secrets", f"production secret {name!r} is read from {file}, not secrets/"
        assert f"`{path.name}`" in readme, f"secrets/README.md does not list {path.name}"
        assert path.name in deployment_doc, f"docs/deployment.md does not mention {path.name}"


def test_production_secret_files_are_never_committed():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in _secret_files(merged_stack("production")).values():
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=REPO_ROOT, check=False)
        assert ignored.returncode == 0, f"{name} is not git-ignored"
    for kept in ("secrets/README.md", "secrets/.gitignore"):
        assert subprocess.run(["git", "check-ignore", "-q", kept], cwd=REPO_ROOT, check=False).returncode == 1


@pytest.mark.parametrize("stack", ["development", "test"])
def test_development_and_test_secrets_are_sandbox_files_that_exist(stack, stacks):
    files = _secret_files(stacks[stack])
    assert set(files) == set(_secret_files(stacks["production"])), "every production secret needs a sandbox value"
    for name, file in files.items():
        assert file.startswith("./sandbox/secrets/"), f"{stack} secret {name!r} is read from {file}"
        assert (REPO_ROOT / file).is_file(), f"{file} is missing"


def test_sandbox_secrets_say_they_are_sandbox_only():
    folder = REPO_ROOT / "sandbox" / "secrets"
    for path in folder.iterdir():
        if path.name != "README.md":
            assert "sandbox" in path.read_text(encoding="utf-8").lower(), f"{path} does not say it is sandbox-only"


def test_the_acme_storage_is_a_volume_only_the_reverse_proxy_mounts(stacks):
    production = stacks["production"]
    proxy = services_of(production)["reverse-proxy"]
    storage = flag_value(command_list(proxy), "--certificatesResolvers.letsencrypt.acme.storage")
    assert storage, "production has no Let's Encrypt storage"
    volumes = {mount_target(entry): entry.split(":")[0] for entry in proxy["volumes"] if isinstance(entry, str)}
    mount = next((target for target in volumes if storage.startswith(target.rstrip("/") + "/")), None)
    assert mount, f"{storage} is not inside a mounted volume: the certificates would be lost on restart"
    volume = volumes[mount]
    assert volume in (production.get("volumes") or {}), f"{volume} is not a named volume"
    sharers = [name for name, service in services_of(production).items() if name != "reverse-proxy"
               and any(isinstance(entry, str) and entry.split(":")[0] == volume for entry in service.get("volumes") or ())]
    assert not sharers, f"the ACME volume is shared with {sharers}"


def test_production_reverse_proxy_keeps_every_shared_flag():
    base = command_list(services_of(load_compose(BASE_FILE))["reverse-proxy"])
    production = command_list(services_of(load_compose("compose.prod.yml"))["reverse-proxy"])
    lost = [flag for flag in base if flag not in production]
    assert not lost, f"compose.prod.yml's command replaces compose.yml's and loses {lost}"


# --- development and tests -----------------------------------------------------------------------------------


def test_development_publishes_ports_on_localhost_only(stacks):
    for name, service in services_of(stacks["development"]).items():
        for host_ip, published, target, _ in published_ports(service):
            assert host_ip == "127.0.0.1", f"development {name} publishes {published}:{target} to every interface"


def test_development_exposes_a_debugger_for_the_backend_and_the_dashboard(stacks):
    for name in ("backend", "frontend"):
        service = services_of(stacks["development"])[name]
        assert service["build"]["target"] == "development"
        dockerfile = parse_dockerfile(REPO_ROOT / service["build"]["dockerfile"])
        command = dockerfile.effective(dockerfile.stage("development"), "CMD")
        port = re.search(r'"--listen", "0\.0\.0\.0:(\d+)"', command)
        assert "debugpy" in command and port, f"{name}'s development target does not start under debugpy"
        assert port.group(1) in {target for _, _, target, _ in published_ports(service)}, (
            f"{name}'s debugger port {port.group(1)} is not published")


def _idp_issuer(service: dict) -> str:
    return flag_value(command_list(service), "--issuer")


@pytest.mark.parametrize("stack", ["development", "test"])
def test_sandbox_identity_provider_is_wired_consistently(stack, stacks):
    services = services_of(stacks[stack])
    issuer = _idp_issuer(services["idp"])
    host = re.match(r"https?://([^:/]+)", issuer).group(1)
    aliases = (names_mapping(services["idp"]["networks"]).get("edge") or {}).get("aliases", [])
    assert host == "idp" or host in aliases, f"containers cannot reach the issuer {issuer}"
    assert json.loads(environment_of(services["backend"])["APP_TRUSTED_OP_LIST"]) == [issuer]
    auth = tomllib.loads((REPO_ROOT / stacks[stack]["secrets"]["dashboard_auth"]["file"]).read_text())["auth"]
    assert auth["server_metadata_url"] == f"{issuer}/.well-known/openid-configuration"
    users = json.loads((REPO_ROOT / "sandbox" / "users.json").read_text())
    client = next(client for client in users["clients"] if client["client_id"] == auth["client_id"])
    assert client["client_secret"] == auth["client_secret"]
    if stack == "development":  # where a browser logs in
        extra = [value.partition("=")[2] for value in command_list(services["idp"])
                 if value.startswith(auth["client_id"] + "=")]
        assert auth["redirect_uri"] in client["redirect_uris"] + extra, "the identity provider refuses the redirect URI"
        demo = command_list(services["demo-data"])
        assert flag_value(demo, "--issuer") == issuer and flag_value(demo, "--url") == "http://backend:5000"
    else:
        assert environment_of(services["testing"])["DRIFT_STACK_ISSUER"] == issuer


def test_the_test_stack_reaches_the_proxy_by_a_name_its_certificate_covers(stacks):
    services = services_of(stacks["test"])
    domain = environment_of(services["reverse-proxy"])["APP_DOMAIN_NAME"]
    testing = environment_of(services["testing"])
    assert testing["DRIFT_STACK_URL"] == f"https://{domain}"
    aliases = (names_mapping(services["reverse-proxy"]["networks"]).get("edge") or {}).get("aliases", [])
    assert domain == "reverse-proxy" or domain in aliases, f"the testing container cannot resolve {domain}"
    certificates = command_list(services["certificates"])
    assert "sandbox/generate-certs.sh" in certificates and domain in certificates
    ca_bundle = testing["DRIFT_STACK_CA_BUNDLE"]
    shared = {entry.split(":")[0] for entry in services["certificates"]["volumes"]}
    testing_mounts = {mount_target(entry): entry.split(":")[0] for entry in services["testing"]["volumes"]}
    assert any(ca_bundle.startswith(target + "/") and volume in shared for target, volume in testing_mounts.items())
    assert stacks["test"]["name"] != stacks["production"]["name"], "tests would share production's volumes"
    build = services["testing"]["build"]
    dockerfile = parse_dockerfile(REPO_ROOT / build["dockerfile"])
    command = " ".join(command_list(services["testing"])) or dockerfile.effective(dockerfile.stage(build["target"]), "CMD")
    assert "tests/stack" in command, f"the testing service runs {command}"
    assert list((REPO_ROOT / "tests" / "stack").glob("test_*.py"))


def test_the_dashboard_reaches_the_api_through_the_proxy(stacks):
    # Through Traefik's internal entry point, where the rate limit applies (tests/deploy/test_hardening.py
    # checks the router behind it); the proxy's backend service is the backend's port.
    for stack, config in stacks.items():
        services = services_of(config)
        assert environment_of(services["frontend"])["DRIFT_MONITOR_URL"] == "http://reverse-proxy:8081", stack
        assert "--entryPoints.internal.address=:8081" in command_list(services["reverse-proxy"]), stack


# --- the checks themselves catch broken files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("mongo:8.0.4", True),
        ("traefik:v3.6.7", True),
        ("registry.example.com:5000/library/mongo:8.0.4", True),
        ("mongo@sha256:" + "0" * 64, True),
        ("mongo", False),
        ("mongo:latest", False),
        ("traefik:v3", False),
        ("mongo:8", False),
        ("registry.example.com:5000/mongo", False),
        ("mongo:${MONGO_VERSION}", False),
    ],
)
def test_image_pin_check(image, pinned):
    assert (image_pin_problem(image) is None) is pinned


def test_port_check_catches_a_published_database():
    assert published_port_problems({"ports": ["27017:27017"]})
    assert published_port_problems({"network_mode": "host"})
    assert not published_port_problems({"expose": ["27017"]})


def test_secret_and_volume_checks_catch_undeclared_names():
    base = {"services": {"backend": {"secrets": ["declared", {"source": "missing"}], "volumes": ["data:/data", "./src:/src"]}}}
    override = {"secrets": {"declared": {"file": "./x"}}}
    assert undeclared_secrets([base, override]) == ["service 'backend' uses undeclared secret 'missing'"]
    assert undeclared_volumes([base, override]) == ["service 'backend' uses undeclared volume 'data'"]


def test_service_check_catches_typos():
    base = {"services": {"database": {"image": "mongo:8.0.4"}, "backend": {"build": "./backend"}}}
    override = {
        "services": {
            "backnd": {"environment": {"A": "1"}},
            "idp": {"build": ".", "depends_on": {"databse": {"condition": "service_healthy"}}},
        }
    }
    assert unknown_service_problems(base, override) == [
        "service 'backnd' is not in compose.yml and has no image or build",
        "service 'idp' refers to unknown service 'databse'",
    ]


def test_healthcheck_check_catches_missing_checks_and_impossible_conditions():
    stack = {"services": {
        "server": {"image": "x:1.0.0"},
        "job": {"image": "x:1.0.0", "restart": "no"},
        "client": {"image": "x:1.0.0", "restart": "no", "healthcheck": {"disable": True},
                   "depends_on": {"job": {"condition": "service_healthy"},
                                  "server": {"condition": "service_completed_successfully"}}},
    }}
    assert healthcheck_problems(stack) == [
        "long-running service 'server' has no health check",
        "'client' waits for 'job' to be healthy, which has no health check",
        "'client' waits for 'server' to complete, but it is a long-running service",
    ]


def test_loader_rejects_duplicate_keys():
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'image'"):
        yaml.load("services:\n  db:\n    image: a\n    image: b\n", Loader=UniqueKeyLoader)


def test_merge_follows_the_compose_rules():
    base = {"services": {"proxy": {
        "command": ["--a", "--b"], "ports": ["80:80"], "volumes": ["./x.yml:/etc/x.yml:ro", "data:/data"],
        "environment": ["A=1", "B=2"], "healthcheck": {"test": ["CMD", "a"], "interval": "5s"},
        "secrets": ["one"], "security_opt": ["no-new-privileges:true"], "depends_on": ["db"],
    }}, "secrets": {"one": {"file": "./secrets/one"}}}
    override = {"services": {"proxy": {
        "command": ["--c"], "ports": ["443:443", "80:80"], "volumes": ["./y.yml:/etc/x.yml:ro"],
        "environment": {"B": "3"}, "healthcheck": {"test": ["CMD", "b"]}, "secrets": [{"source": "one", "target": "one"}],
        "depends_on": {"db": {"condition": "service_healthy"}},
    }}, "secrets": {"one": {"file": "./sandbox/secrets/one"}}}
    proxy = merge_compose(base, override)["services"]["proxy"]
    assert proxy["command"] == ["--c"]
    assert proxy["ports"] == ["80:80", "443:443"]
    assert proxy["volumes"] == ["./y.yml:/etc/x.yml:ro", "data:/data"]
    assert proxy["environment"] == {"A": "1", "B": "3"}
    assert proxy["healthcheck"] == {"test": ["CMD", "b"], "interval": "5s"}
    assert proxy["secrets"] == [{"source": "one", "target": "one"}]
    assert proxy["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert merge_compose(base, override)["secrets"]["one"]["file"] == "./sandbox/secrets/one"


def test_interpolation_follows_the_compose_rules():
    environ = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET ${SET:+alt} $SET", environ) == (
        "value d  d $SET alt value")
    with pytest.raises(MissingVariable, match="EMPTY: say so"):
        interpolate("${EMPTY:?say so}", environ)
    assert as_mapping(["A=1", "B"]) == {"A": "1", "B": None}
