"""Reading the deployment files as Docker Compose, Docker and Traefik read them, for the static checks.

- Compose files: YAML that refuses duplicate keys, `${VARIABLE}` interpolation, and the Compose
  Specification's merge rules (mappings merge, sequences append, `command`/`entrypoint`/`healthcheck.test`
  are replaced, volumes/secrets/configs merge by target and ports by their address).
- Dockerfiles: stages (`FROM image AS name`) and their instructions, with inheritance between stages.
- Traefik dynamic files: the `{{ env "NAME" }}` templates rendered, then YAML.
- `.env.sample`: the variables it documents.
"""

from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

BASE_FILE = "compose.yml"
#: Each environment is compose.yml plus these files, in this order.
STACKS = {
    "base": (BASE_FILE,),
    "development": (BASE_FILE, "compose.dev.yml"),
    "production": (BASE_FILE, "compose.prod.yml"),
    "test": (BASE_FILE, "compose.test.yml"),
}
#: What an operator must set for production; placeholders, never real values.
SAMPLE_ENVIRONMENT = {
    "APP_DOMAIN_NAME": "drift.example.org",
    "APP_LETSENCRYPT_EMAIL": "ops@example.org",
    "APP_TRUSTED_OP_LIST": '["https://login.example.org/realms/example"]',
    "APP_ADMIN_ENTITLEMENTS": '["urn:example:drift-monitor:admins"]',
    "APP_TOKEN_AUDIENCE": "drift-monitor",
}


# --- YAML ------------------------------------------------------------------------------------------------


class UniqueKeyLoader(yaml.SafeLoader):
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


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml(text: str):
    return yaml.load(text, Loader=UniqueKeyLoader)


def load_compose(name: str) -> dict:
    path = REPO_ROOT / name
    assert path.is_file(), f"{name} is missing from the repository root"
    document = load_yaml(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{name} must be a YAML mapping"
    return document


def services_of(document: dict) -> dict:
    return document.get("services") or {}


# --- interpolation ---------------------------------------------------------------------------------------


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is unset or empty: Compose refuses to start."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>.*))?$", re.DOTALL)


def _substitute(text: str, environ: dict[str, str], used: set[str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            used.add(match.group("named"))
            return environ.get(match.group("named"), "")
        braced = _BRACED.match(match.group("braced"))
        if braced is None:
            raise ValueError(f"invalid interpolation {match.group(0)!r}")
        name, operator, argument = braced.group("name", "operator", "argument")
        used.add(name)
        value = environ.get(name)
        unset_or_empty = not value
        if operator is None:
            return value or ""
        missing = unset_or_empty if operator.startswith(":") else value is None
        kind = operator[-1]
        if kind == "-":
            return argument if missing else value
        if kind == "?":
            if missing:
                raise MissingVariable(name, argument)
            return value
        return "" if missing else argument  # "+"

    return _REFERENCE.sub(replace, text)


def interpolate(document, environ: dict[str, str], used: set[str] | None = None):
    """The document with every `${...}` in its values replaced, as Compose does when it loads a file."""
    used = set() if used is None else used
    if isinstance(document, dict):
        return {key: interpolate(value, environ, used) for key, value in document.items()}
    if isinstance(document, list):
        return [interpolate(item, environ, used) for item in document]
    if isinstance(document, str):
        return _substitute(document, environ, used)
    return document


def variables_used(document) -> set[str]:
    """Every variable a document refers to, whether or not it has a default."""
    used: set[str] = set()
    _collect(document, used)
    return used


def _collect(document, used: set[str]) -> None:
    if isinstance(document, dict):
        for value in document.values():
            _collect(value, used)
    elif isinstance(document, list):
        for item in document:
            _collect(item, used)
    elif isinstance(document, str):
        for match in _REFERENCE.finditer(document):
            if match.group("named"):
                used.add(match.group("named"))
            elif match.group("braced") is not None:
                braced = _BRACED.match(match.group("braced"))
                used.add(braced.group("name") if braced else match.group("braced"))


# --- merging ---------------------------------------------------------------------------------------------

_REPLACED = {"command", "entrypoint"}
_BY_TARGET = {"volumes", "secrets", "configs"}
_AS_MAPPING = {"environment", "labels", "annotations", "sysctls", "extra_hosts"}


def as_mapping(value, separator: str = "=") -> dict:
    """`environment`/`labels` style lists (`NAME=value`) as a mapping; mappings unchanged."""
    if isinstance(value, dict):
        return dict(value)
    result = {}
    for item in value or ():
        name, sep, rest = str(item).partition(separator)
        result[name] = rest if sep else None
    return result


def names_mapping(value) -> dict:
    """`depends_on`/`networks` as a mapping keyed by name (a list of names → {name: None})."""
    if isinstance(value, dict):
        return dict(value)
    return {name: None for name in value or ()}


def mount_target(entry) -> str:
    """The container path of a volume entry (short or long syntax)."""
    if isinstance(entry, dict):
        return entry["target"]
    parts = entry.split(":")
    return parts[1] if len(parts) >= 2 else parts[0]


def secret_target(entry) -> str:
    """The name under /run/secrets (or absolute path) of a service's secret entry."""
    if isinstance(entry, str):
        return entry
    return entry.get("target") or entry["source"]


def secret_source(entry) -> str:
    return entry if isinstance(entry, str) else entry["source"]


def port_key(entry) -> tuple:
    """(host_ip, published, target, protocol) of a `ports` entry: the key Compose merges ports by."""
    if isinstance(entry, dict):
        return (entry.get("host_ip", ""), str(entry.get("published", "")), str(entry["target"]),
                entry.get("protocol", "tcp"))
    text, _, protocol = str(entry).partition("/")
    host_ip = ""
    if text.startswith("["):  # [::1]:443:443
        host_ip, _, text = text[1:].partition("]:")
    parts = text.split(":")
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    else:
        published, target = "", parts[0]
    return host_ip, published, target, protocol or "tcp"


def published_ports(service: dict) -> list[tuple]:
    return [port_key(entry) for entry in service.get("ports") or ()]


def _merge_by(base: list, override: list, key) -> list:
    merged = {key(entry): entry for entry in base}
    for entry in override:
        merged[key(entry)] = entry
    return list(merged.values())


def deep_merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        result = dict(base)
        for key, value in override.items():
            result[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return result
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return copy.deepcopy(override)


def merge_service(base: dict, override: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in override.items():
        current = result.get(key)
        if current is None or key in _REPLACED:
            result[key] = copy.deepcopy(value)
        elif key in _BY_TARGET:
            target = mount_target if key == "volumes" else secret_target
            result[key] = _merge_by(current, value, target)
        elif key == "ports":
            result[key] = _merge_by(current, value, port_key)
        elif key in _AS_MAPPING:
            result[key] = {**as_mapping(current), **as_mapping(value)}
        elif key in ("depends_on", "networks"):
            result[key] = deep_merge(names_mapping(current), names_mapping(value))
        elif key == "build":
            current = {"context": current} if isinstance(current, str) else current
            value = {"context": value} if isinstance(value, str) else value
            result[key] = deep_merge(current, value)
        elif key == "healthcheck":
            merged = deep_merge(current, {k: v for k, v in value.items() if k != "test"})
            if "test" in value:
                merged["test"] = copy.deepcopy(value["test"])
            result[key] = merged
        else:
            result[key] = deep_merge(current, value)
    return result


def merge_compose(base: dict, override: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in override.items():
        if key == "services":
            services = result.setdefault("services", {})
            for name, service in (value or {}).items():
                services[name] = merge_service(services[name], service) if name in services else copy.deepcopy(service)
        elif key in result and isinstance(result[key], dict) and isinstance(value, dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def merged_stack(stack: str, environ: dict[str, str] | None = None) -> dict:
    """The configuration Compose would run for `stack` (see STACKS), interpolated file by file."""
    environ = SAMPLE_ENVIRONMENT if environ is None else environ
    merged: dict = {}
    for name in STACKS[stack]:
        merged = merge_compose(merged, interpolate(load_compose(name), environ))
    return merged


def raw_stack(stack: str) -> dict:
    """Like merged_stack, without interpolation (for finding the variables used)."""
    merged: dict = {}
    for name in STACKS[stack]:
        merged = merge_compose(merged, load_compose(name))
    return merged


def is_one_shot(service: dict) -> bool:
    """A service that runs to completion (restart: "no"), as opposed to a long-running server."""
    return str(service.get("restart", "")).lower() == "no"


def environment_of(service: dict) -> dict:
    return as_mapping(service.get("environment"))


def command_list(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def flag_value(arguments: list[str], flag: str) -> str | None:
    """The value of `--flag=value` or `--flag value` in an argument list (Traefik flags: any case)."""
    lowered = flag.lower()
    for index, argument in enumerate(arguments):
        name, sep, value = argument.partition("=")
        if name.lower() == lowered:
            if sep:
                return value
            following = arguments[index + 1] if index + 1 < len(arguments) else ""
            return "true" if following.startswith("--") or not following else following
    return None


# --- Dockerfiles -----------------------------------------------------------------------------------------


@dataclass(eq=False)  # stages are compared (and hashed) by identity
class Stage:
    index: int
    name: str | None
    base: str  # an image reference, or the name of an earlier stage
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage | None:
        return next((stage for stage in self.stages if stage.name == name), None)

    def parent(self, stage: Stage) -> Stage | None:
        return self.stage(stage.base)

    def external_image(self, stage: Stage) -> str | None:
        """The image `stage` starts from, when that is not another stage."""
        return None if self.parent(stage) else stage.base

    def effective(self, stage: Stage, keyword: str) -> str | None:
        """The last `keyword` (USER, HEALTHCHECK, CMD, ENTRYPOINT, WORKDIR) in force in `stage`, following
        `FROM <stage>` chains; None when only the external base image would decide."""
        current: Stage | None = stage
        while current is not None:
            found = current.all(keyword)
            if found:
                return found[-1]
            current = self.parent(current)
        return None


def _logical_lines(text: str) -> list[str]:
    lines, pending = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending.strip())
    return lines


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            stages.append(Stage(index=len(stages), name=name, base=base))
        elif not stages:
            if keyword == "ARG":
                name, _, default = arguments.partition("=")
                global_args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append((keyword, arguments))
    return Dockerfile(path=path, global_args=global_args, stages=stages)


# --- Traefik ---------------------------------------------------------------------------------------------

_TEMPLATE = re.compile(r"\{\{\s*env\s+\"([A-Za-z_][A-Za-z0-9_]*)\"\s*\}\}")


def render_traefik_template(text: str, environ: dict[str, str]) -> str:
    """Traefik renders Go templates in dynamic files before parsing them; only `{{ env "NAME" }}` is used."""
    rendered = _TEMPLATE.sub(lambda match: environ.get(match.group(1), ""), text)
    leftover = re.search(r"\{\{.*?\}\}", rendered)
    assert leftover is None, f"unsupported template {leftover.group(0)!r}: teach tests/deploy/stack_files.py"
    return rendered


def template_variables(text: str) -> set[str]:
    return set(_TEMPLATE.findall(text))


def load_traefik_file(path: Path, environ: dict[str, str]) -> dict:
    document = load_yaml(render_traefik_template(path.read_text(encoding="utf-8"), environ))
    assert isinstance(document, dict), f"{path} must be a YAML mapping"
    return document


# --- .env.sample -----------------------------------------------------------------------------------------


def documented_variables(path: Path = REPO_ROOT / ".env.sample") -> set[str]:
    """Names set (or shown commented out) in .env.sample: `NAME=value` or `# NAME=value`."""
    text = path.read_text(encoding="utf-8")
    return set(re.findall(r"^[ \t]*(?:#[ \t]*)?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
