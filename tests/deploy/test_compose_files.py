"""Checks the compose files against the Compose Specification and the promises users rely on."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = Path(__file__).with_name("compose-spec.json")

BASE_FILE = "compose.yml"
OVERRIDE_FILES = ("compose.override.yml", "compose.prod.yml", "compose.test.yml")
COMPOSE_FILES = (BASE_FILE, *OVERRIDE_FILES)
DATABASE_SERVICE = "database"


# --- loading ---------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: PyYAML keeps the last one silently, Compose refuses the file."""


def _construct_unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_compose(name: str) -> dict:
    path = REPO_ROOT / name
    assert path.is_file(), f"{name} is missing from the repository root"
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    assert isinstance(document, dict), f"{name} must be a YAML mapping"
    return document


def services_of(document: dict) -> dict:
    return document.get("services") or {}


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
    return None


def published_port_problems(service: dict) -> list[str]:
    problems = []
    if service.get("ports"):
        problems.append(f"publishes ports {service['ports']!r}")
    if service.get("network_mode") == "host":
        problems.append("uses network_mode: host, which exposes every port")
    return problems


def _secret_names(entries) -> list[str]:
    return [entry if isinstance(entry, str) else entry.get("source") for entry in entries or ()]


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


# --- the repository's compose files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_matches_the_compose_specification(name, compose_validator):
    document = load_compose(name)
    errors = sorted(compose_validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    assert not errors, f"{name} does not match the Compose Specification:\n" + "\n".join(
        f"  {'/'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors
    )


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_database_image_is_pinned(name):
    database = services_of(load_compose(name)).get(DATABASE_SERVICE)
    if name == BASE_FILE:
        assert database is not None, f"{BASE_FILE} defines no {DATABASE_SERVICE!r} service"
    elif database is None or "image" not in database:
        return  # this override keeps the base image
    problem = image_pin_problem(database.get("image"))
    assert problem is None, f"{name}: {DATABASE_SERVICE} {problem}"


@pytest.mark.parametrize("name", (BASE_FILE, "compose.prod.yml"))
def test_production_does_not_publish_the_database_port(name):
    # Compose appends ports from merged files, so neither file of the production pair may publish any.
    database = services_of(load_compose(name)).get(DATABASE_SERVICE) or {}
    problems = published_port_problems(database)
    assert not problems, f"{name}: {DATABASE_SERVICE} " + "; ".join(problems)


@pytest.mark.parametrize("override", (None, *OVERRIDE_FILES))
def test_every_used_secret_and_volume_is_declared(override):
    documents = [load_compose(BASE_FILE)] + ([load_compose(override)] if override else [])
    problems = undeclared_secrets(documents) + undeclared_volumes(documents)
    assert not problems, f"{BASE_FILE} + {override}: " + "; ".join(problems)


def test_production_backend_receives_the_database_password():
    backend = services_of(load_compose("compose.prod.yml"))["backend"]
    assert "app_database_password" in _secret_names(backend.get("secrets"))
    assert backend.get("environment", {}).get("APP_SECRETS_DIR") == "/run/secrets"


@pytest.mark.parametrize("override", OVERRIDE_FILES)
def test_override_names_only_known_services(override):
    problems = unknown_service_problems(load_compose(BASE_FILE), load_compose(override))
    assert not problems, f"{override}: " + "; ".join(problems)


# --- the checks themselves catch broken files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("mongo:8.0.4", True),
        ("registry.example.com:5000/library/mongo:8.0.4", True),
        ("mongo@sha256:" + "0" * 64, True),
        ("mongo", False),
        ("mongo:latest", False),
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


def test_loader_rejects_duplicate_keys():
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'image'"):
        yaml.load("services:\n  db:\n    image: a\n    image: b\n", Loader=_UniqueKeyLoader)
