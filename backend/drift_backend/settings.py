"""Typed server settings read from ``APP_*`` environment variables and secret files."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus, urlparse

ENV_PREFIX = "APP_"
ENVIRONMENTS = ("production", "development")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable to fix."""


@dataclass(frozen=True)
class Settings:
    # --- Environment ----------------------------------------------------------
    # "production" (default) refuses settings that are only safe on a developer's machine: no token
    # audience, http:// issuers. "development" (the sandbox, `make run`, the tests) allows them.
    environment: str

    # --- Database -------------------------------------------------------------
    # A full URI wins; otherwise it is built from host, port and credentials so that
    # production can keep the password in a secret file.
    database_uri: str
    database_name: str
    # How long a request waits for an unreachable database before answering 503.
    database_timeout_ms: int
    # How long run writes' changes to the overview counters may wait, to be merged into one update.
    summary_delay_ms: int

    # --- Authentication -------------------------------------------------------
    trusted_op_list: tuple[str, ...]
    entitlements_path: str
    admin_entitlements: frozenset[str]
    # When non-empty, only users holding one of these may register.
    users_entitlements: frozenset[str]
    # A token is accepted only if its `aud` names one of these, or its `azp`/`client_id` is one of them.
    # Empty (development only): any audience.
    token_audience: tuple[str, ...]
    # Issuers whose entitlements count (administrators, the registration gate, group permissions). A
    # token of another trusted issuer identifies its user but carries no entitlements, so a weaker
    # issuer cannot make someone an administrator by putting the right string in a token.
    entitlement_issuers: frozenset[str]
    # Issuers whose userinfo endpoint may be asked about an opaque (non-JWT) token, in this order.
    # Empty: opaque tokens are refused without any outbound call.
    opaque_token_issuers: tuple[str, ...]
    # Userinfo does not say when an opaque token expires: an accepted one is re-checked this often.
    opaque_token_ttl_seconds: int
    # Timeout of calls to identity providers (discovery, JWKS, userinfo).
    oidc_timeout_seconds: float

    # --- Bounded work per request ---------------------------------------------
    # Server-side time limit (maxTimeMS) of each query that may scan; 0: none. Past it the request
    # answers 503 instead of holding a worker and the database.
    db_max_time_ms: int = 10_000
    # Experiments one user may own; 0: unlimited. Administrators are counted too.
    quota_experiments_per_user: int = 1000
    # Drift runs one user may report per minute (all experiments, all workers); 0: unlimited.
    quota_runs_per_minute: int = 600

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        env = _with_secret_files(env)

        database_name = env.get("APP_DATABASE_NAME", "drifts-data").strip()
        if not database_name:
            raise SettingsError("APP_DATABASE_NAME must not be empty")

        environment = env.get("APP_ENVIRONMENT", "production").strip().lower() or "production"
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"APP_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
        issuers = tuple(_issuer_list(env))
        audience = tuple(_one_or_list(env, "APP_TOKEN_AUDIENCE"))
        entitlement_issuers = (tuple(_urls(env, "APP_ENTITLEMENT_ISSUERS", issuers))
                               if env.get("APP_ENTITLEMENT_ISSUERS", "").strip() else issuers[:1])
        opaque_token_issuers = tuple(_urls(env, "APP_OPAQUE_TOKEN_ISSUERS", issuers))
        if environment == "production":
            if not audience:
                raise SettingsError("APP_TOKEN_AUDIENCE is required in production: this API's client id "
                                    "(tokens issued to other clients must not be accepted); "
                                    "set APP_ENVIRONMENT=development on a developer machine")
            plain = [issuer for issuer in issuers if urlparse(issuer).scheme == "http"]  # also HTTP://
            if plain:
                raise SettingsError(f"APP_TRUSTED_OP_LIST has http:// issuers {plain}: only https:// in "
                                    "production (APP_ENVIRONMENT=development allows http://)")

        return cls(
            environment=environment,
            database_uri=_database_uri(env, database_name),
            database_name=database_name,
            database_timeout_ms=_positive_int(env, "APP_DATABASE_TIMEOUT_MS", 3000),
            summary_delay_ms=_positive_int(env, "APP_SUMMARY_DELAY_MS", 1000, allow_zero=True),
            trusted_op_list=issuers,
            entitlements_path=env.get("APP_ENTITLEMENTS_PATH", "eduperson_entitlement").strip()
            or "eduperson_entitlement",
            admin_entitlements=frozenset(_string_list(env, "APP_ADMIN_ENTITLEMENTS")),
            users_entitlements=frozenset(_string_list(env, "APP_USERS_ENTITLEMENTS")),
            token_audience=audience,
            entitlement_issuers=frozenset(entitlement_issuers),
            opaque_token_issuers=opaque_token_issuers,
            opaque_token_ttl_seconds=_opaque_token_ttl(env),
            oidc_timeout_seconds=_positive_int(env, "APP_OIDC_TIMEOUT_SECONDS", 5),
            db_max_time_ms=_positive_int(env, "APP_DB_MAX_TIME_MS", 10_000, allow_zero=True),
            quota_experiments_per_user=_positive_int(env, "APP_QUOTA_EXPERIMENTS_PER_USER", 1000, allow_zero=True),
            quota_runs_per_minute=_positive_int(env, "APP_QUOTA_RUNS_PER_MINUTE", 600, allow_zero=True),
        )


def _with_secret_files(env: dict[str, str]) -> dict[str, str]:
    """Each file ``<dir>/app_x`` sets ``APP_X`` unless the environment already sets it."""
    secrets_dir = env.get("APP_SECRETS_DIR", "").strip()
    if not secrets_dir:
        return env
    directory = Path(secrets_dir)
    if not directory.is_dir():
        raise SettingsError(f"APP_SECRETS_DIR={secrets_dir!r} is not a directory")
    for path in sorted(directory.iterdir()):
        name = path.name.upper()
        if path.is_file() and name.startswith(ENV_PREFIX) and name not in env:
            env[name] = path.read_text(encoding="utf-8").strip()
    return env


def _database_uri(env: Mapping[str, str], database_name: str) -> str:
    uri = env.get("APP_DATABASE_URI", "").strip()
    if uri:
        if not uri.startswith(("mongodb://", "mongodb+srv://")):
            raise SettingsError("APP_DATABASE_URI must start with mongodb:// or mongodb+srv://")
        return uri
    host = env.get("APP_DATABASE_HOST", "").strip()
    if not host:
        raise SettingsError("set APP_DATABASE_URI, or APP_DATABASE_HOST (with APP_DATABASE_PORT, "
                            "APP_DATABASE_USERNAME and APP_DATABASE_PASSWORD)")
    port = _positive_int(env, "APP_DATABASE_PORT", 27017)
    username = env.get("APP_DATABASE_USERNAME", "").strip()
    password = env.get("APP_DATABASE_PASSWORD", "")
    if bool(username) != bool(password):
        raise SettingsError("APP_DATABASE_USERNAME and APP_DATABASE_PASSWORD must be set together")
    if not username:
        return f"mongodb://{host}:{port}/"
    # The application user lives in the application database (see the database init script).
    credentials = f"{quote_plus(username)}:{quote_plus(password)}@"
    return f"mongodb://{credentials}{host}:{port}/?authSource={quote_plus(database_name)}"


def _positive_int(env: Mapping[str, str], name: str, default: int, allow_zero: bool = False) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(f"{name} must be {'zero or ' if allow_zero else ''}positive, got {value}")
    return value


# A revoked opaque token is believed at most this long: its expiry is unknown, so the cache is short.
OPAQUE_TOKEN_TTL_LIMIT_SECONDS = 60


def _opaque_token_ttl(env: Mapping[str, str]) -> int:
    ttl = _positive_int(env, "APP_OPAQUE_TOKEN_TTL_SECONDS", OPAQUE_TOKEN_TTL_LIMIT_SECONDS)
    if ttl > OPAQUE_TOKEN_TTL_LIMIT_SECONDS:
        raise SettingsError(f"APP_OPAQUE_TOKEN_TTL_SECONDS must be at most {OPAQUE_TOKEN_TTL_LIMIT_SECONDS} "
                            f"(a revoked opaque token is accepted for that long), got {ttl}")
    return ttl


def _string_list(env: Mapping[str, str], name: str) -> list[str]:
    raw = env.get(name, "").strip()
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise SettingsError(f'{name} must be a JSON list, e.g. ["a", "b"]; got {raw!r}') from None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SettingsError(f"{name} must be a JSON list of non-empty strings; got {raw!r}")
    return value


def _issuer_list(env: Mapping[str, str]) -> list[str]:
    if "APP_TRUSTED_OP_LIST" not in env:
        raise SettingsError('APP_TRUSTED_OP_LIST is required: a JSON list of trusted OIDC issuer URLs, '
                            'e.g. ["https://aai.egi.eu/auth/realms/egi"]')
    issuers = _string_list(env, "APP_TRUSTED_OP_LIST")
    for issuer in issuers:
        parsed = urlparse(issuer)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"APP_TRUSTED_OP_LIST entry {issuer!r} is not an http(s) URL")
    # Issuers are compared with the token's `iss` claim exactly, bar a trailing slash.
    return [issuer.rstrip("/") for issuer in issuers]


def _one_or_list(env: Mapping[str, str], name: str) -> list[str]:
    """A JSON list of strings, or plain comma-separated strings (one value needs no list syntax)."""
    raw = env.get(name, "").strip()
    if raw.startswith("["):
        return _string_list(env, name)
    return [value.strip() for value in raw.split(",") if value.strip()]


def _urls(env: Mapping[str, str], name: str, trusted: tuple[str, ...]) -> list[str]:
    """A JSON list of issuer URLs, each of which must be one of the trusted issuers."""
    urls = [url.rstrip("/") for url in _string_list(env, name)]
    unknown = [url for url in urls if url not in trusted]
    if unknown:
        raise SettingsError(f"{name} entries {unknown} are not in APP_TRUSTED_OP_LIST")
    return urls
