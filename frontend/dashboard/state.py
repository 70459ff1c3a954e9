"""Per-session state: who is logged in, their API client, cache keys and the current view's filters."""

# Credentials live in st.session_state only: never in the URL, a log, or a cache shared between sessions.

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import streamlit as st
from drift_monitor import AuthenticationError, Client

from . import api
from .filters import Filters

#: Where the sidebar keeps a pasted credential: {"kind": "access_token" | "mytoken", "secret": "..."}.
PASTED = "pasted_credentials"
PASTED_KINDS = {"access_token": "Access token", "mytoken": "MyToken"}


def auth_configured() -> bool:
    """Whether an identity provider for st.login is configured (an [auth] section in the secrets)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all
        return False


def _oidc_user() -> dict[str, Any]:
    if not auth_configured():
        return {}
    user = st.user.to_dict()
    return user if user.get("is_logged_in") else {}


@dataclasses.dataclass(frozen=True)
class Login:
    """How this session talks to the API. ``key`` names the login without revealing it."""

    kind: str  # "anonymous", "oidc", "access_token" or "mytoken"
    key: str
    secret: str | None = dataclasses.field(default=None, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"


def current_login() -> Login:
    """A pasted credential wins over the browser login: pasting is the more deliberate act."""
    pasted = st.session_state.get(PASTED)
    if pasted and pasted.get("secret"):
        # A fresh random key per paste: what the cache is keyed by says nothing about the token.
        pasted.setdefault("key", uuid.uuid4().hex)
        return Login(pasted.get("kind", "access_token"), f"{pasted.get('kind')}:{pasted['key']}", pasted["secret"])
    user = _oidc_user()
    if user:
        subject = user.get("sub") or user.get("email") or "user"
        # Present when the [auth] section has expose_tokens = ["access"].
        return Login("oidc", f"oidc:{subject}", st.user.tokens.to_dict().get("access"))
    return Login("anonymous", "anonymous")


def use_pasted(kind: str, secret: str) -> None:
    st.session_state[PASTED] = {"kind": kind, "secret": secret.strip(), "key": uuid.uuid4().hex}
    _forget_login()


def _forget_login() -> None:
    for name in ("_client", "_whoami"):
        held = st.session_state.pop(name, None)
        if name == "_client" and held:
            held[1].close()


def log_out() -> None:
    """Forget a pasted credential; end a browser login with st.logout (which reloads the app)."""
    was_oidc = current_login().kind == "oidc" or bool(_oidc_user())
    st.session_state.pop(PASTED, None)
    _forget_login()
    if was_oidc:
        st.logout()


def _credential_of(client: Client) -> str | None:
    return client.settings.mytoken or client.settings.token


def client() -> Client:
    """This session's API client, built once per login."""
    login = current_login()
    held = st.session_state.get("_client")
    if held is None or held[0] != login.key or _credential_of(held[1]) != login.secret:
        _forget_login()
        if login.kind == "mytoken":
            built = api.make_client(mytoken=login.secret)
        else:
            built = api.make_client(token=login.secret)
        held = (login.key, built)
        st.session_state["_client"] = held
    return held[1]


def cache_key() -> str:
    """Names this session, its login and the version of its data in every cached read."""
    session = st.session_state.setdefault("_session_id", uuid.uuid4().hex)
    return f"{session}:{current_login().key}:{st.session_state.get('_generation', 0)}"


def data_changed() -> None:
    """After a write: this session's cached reads are stale."""
    st.session_state["_generation"] = st.session_state.get("_generation", 0) + 1


@dataclasses.dataclass(frozen=True)
class Who:
    """The person behind the session, as far as the API knows them."""

    name: str
    registered: bool = False
    user_id: str | None = None
    expired: bool = False


def who() -> Who | None:
    """Who is logged in (None when the API sees nobody); asks the API once per session and login."""
    login = current_login()
    if login.anonymous or not login.secret:
        return None
    held = st.session_state.get("_whoami")
    if held and held[0] == login.key:
        return held[1]
    claims = api.token_claims(login.secret)
    user_claims = _oidc_user()
    fallback = (api.display_name(None, user_claims) if login.kind == "oidc" else None) \
        or api.display_name(None, claims) or PASTED_KINDS.get(login.kind, "you")
    try:
        user = api.whoami(client())
    except AuthenticationError:
        return Who(name=fallback, expired=True)  # not kept: a new login must be asked again
    person = Who(name=api.display_name(user, claims) or fallback, registered=user is not None,
                 user_id=(user or {}).get("id"))
    st.session_state["_whoami"] = (login.key, person)
    return person


def registered_now(user: dict) -> None:
    login = current_login()
    st.session_state["_whoami"] = (login.key, Who(name=api.display_name(user, {}) or "you", registered=True,
                                                  user_id=user.get("id")))
    data_changed()


# The view: which experiment, which filters ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class View:
    experiment_id: str | None
    filters: Filters
    today: dt.date


def remember_experiment() -> str | None:
    """The experiment of the URL, or, when a page was opened without one (the navigation drops
    query parameters), the one this session looked at last, put back into the URL."""
    from_url = st.query_params.get("experiment")
    remembered = st.session_state.get("_experiment")
    if from_url:
        if remembered and from_url != remembered:
            # Models and tags belong to the experiment left behind, unless the link brought its own.
            for key in ("model", "tag"):
                if key not in st.query_params:
                    st.session_state[key] = []
        st.session_state["_experiment"] = from_url
        return from_url
    if remembered:
        st.query_params["experiment"] = remembered
    return remembered


def set_view(experiment_id: str | None, filters: Filters) -> None:
    st.session_state["_view"] = View(experiment_id, filters, dt.datetime.now(dt.timezone.utc).date())


def view() -> View:
    return st.session_state.get("_view") or View(None, Filters(), dt.datetime.now(dt.timezone.utc).date())


def suggestions(experiment_id: str | None) -> dict[str, list[str]]:
    return st.session_state.get("_suggestions", {}).get(experiment_id, {})


def suggest(experiment_id: str, **lists: list[str]) -> None:
    """Remember filter suggestions a page learnt (models, tags); the frame redraws the filters once."""
    known = st.session_state.setdefault("_suggestions", {}).setdefault(experiment_id, {})
    for name, values in lists.items():
        merged = sorted(set(known.get(name, [])) | set(values or []))
        if merged != known.get(name, []):
            known[name] = merged
            st.session_state["_suggestions_new"] = True


def suggestions_arrived() -> bool:
    return bool(st.session_state.pop("_suggestions_new", False))
