"""Attacks on the dashboard that security issue 11 closes: Markdown injected through a shared link's
query parameters, and login cookies that are not Secure or outlive a working day.

The link attacks run the real pages (AppTest) against the real API with sandbox tokens. The cookie
policy is checked on a real Streamlit server (frontend/server.py, the image's entry point) after a
real login through the sandbox identity provider, and its expiry on the cookies that login produced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import tomllib
from pathlib import Path

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard import markdown
from dashboard.cookies import CookiePolicy, CookiePolicyMiddleware, harden_set_cookie, is_login_cookie
from dashboard.filters import Filters
from sandbox.dashboard import CLIENT_ID, DashboardServer, provider_token, redirect_uris
from sandbox.database import free_port
from sandbox.idp.launcher import start_idp

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PAYLOAD = "**x**[a](javascript:alert(1))<img src=x onerror=alert(1)>"
TIMEOUT = 15
LOGIN_MAX_AGE = 600


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def markdown_sources(app) -> list[str]:
    """Everything the page handed to Streamlit's Markdown renderer."""
    found = []
    for kind in ("title", "caption", "markdown", "info", "error", "warning", "success"):
        found += texts(getattr(app, kind))
        found += texts(getattr(app.sidebar, kind))
    return found


# --- the escaping itself -----------------------------------------------------------------------------------


def test_a_value_renders_as_the_characters_typed():
    escaped = markdown.literal(PAYLOAD)
    # No emphasis, link, image or HTML can start: each such character is escaped...
    for index, character in enumerate(escaped):
        if character in "*_[]<>`&|$~#" and (index == 0 or escaped[index - 1] != "\\"):
            pytest.fail(f"{character!r} at {index} is not escaped in {escaped!r}")
    # ...and removing the escapes gives back exactly what was typed.
    assert escaped.replace("\\", "") == PAYLOAD
    assert markdown.literal("a\n# heading\r\n- item") == "a \\# heading - item"


@pytest.mark.parametrize("value", ["p`q", "`p", "p``", "data_drift.parameters.age.p_value"])
def test_a_code_span_holds_any_backticks(value):
    span = markdown.code(value)
    fence = len(span) - len(span.lstrip("`"))
    inner = span[fence:-fence]
    assert "`" * fence not in inner, span
    assert inner.strip() == value.strip() if value.startswith("`") or value.endswith("`") else inner == value


def test_describe_and_problems_escape_what_came_from_the_url():
    filters = Filters(range="All time", models=(PAYLOAD,), tags=(PAYLOAD,), statuses=(PAYLOAD,))
    described = filters.describe(dt.date(2026, 12, 1))
    assert PAYLOAD not in described and described.count(markdown.literal(PAYLOAD)) == 3
    problems = " ".join(Filters(range=PAYLOAD, drift_type=PAYLOAD, detected=PAYLOAD, statuses=(PAYLOAD,)).problems())
    assert PAYLOAD not in problems and markdown.literal(PAYLOAD) in problems


# --- the attack: a shared link with Markdown in its filters -------------------------------------------------


@pytest.fixture(scope="module")
def shared(make_person):
    owner = make_person()
    experiment = owner.api.create_experiment(f"link-{time.time_ns()}")
    owner.api.create_drift(experiment, model="m1", job_status="Completed", data_drift={"drift": True})
    return owner, experiment


@pytest.mark.parametrize(("parameter", "value"), [
    ("model", PAYLOAD),
    ("tag", "*[a](javascript:x)*"),  # the API takes tags of up to 20 characters
    ("tag", PAYLOAD),  # longer: the API refuses it, and the error box repeats it
])
def test_a_link_with_markdown_in_a_filter_shows_it_literally(open_app, shared, parameter, value):
    owner, experiment = shared
    app = open_app("overview", owner, {"experiment": experiment["id"], parameter: value})
    shown = [text for text in markdown_sources(app) if "javascript" in text]
    if len(value) > 20 and parameter == "tag" and not shown:
        assert texts(app.error), "the API took a tag it should refuse"
        return  # the refusal does not repeat the value: nothing to inject
    assert shown, "the page shows the filter value nowhere (describe or an error box)"
    for source in shown:
        assert value not in source, f"rendered as Markdown: {source!r}"
        assert markdown.literal(value) in source, source


def test_a_link_with_backticks_in_a_parameter_path_stays_in_its_code_span(open_app, shared):
    owner, experiment = shared
    path = "data_drift.parameters.a`b<img src=x onerror=alert(1)>"
    app = open_app("parameters", owner, {"experiment": experiment["id"], "parameter": path})
    [info] = [text for text in texts(app.info) if "numeric value at" in text]
    assert markdown.code(path) in info, info


# --- login cookies on a real server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged_in(tmp_path_factory):
    """A login of alice at frontend/server.py through the sandbox provider: (Set-Cookie headers, cookies,
    cookie secret)."""
    port = free_port()
    with start_idp(redirect_uris={CLIENT_ID: redirect_uris(port)}) as provider:
        server = DashboardServer("http://127.0.0.1:5999", provider.issuer, port, app=FRONTEND / "server.py",
                                 run_dir=tmp_path_factory.mktemp("dashboard"), watch_files=False,
                                 env={"DRIFT_DASHBOARD_LOGIN_MAX_AGE": str(LOGIN_MAX_AGE),
                                      "DRIFT_DASHBOARD_SECURE_COOKIES": "true"})
        server.start(timeout=90)
        try:
            secret = tomllib.loads(server.secrets_path.read_text())["auth"]["cookie_secret"]
            browser = requests.Session()
            login = browser.get(f"{server.url}/auth/login", params={"provider": provider_token(secret)},
                                allow_redirects=False, timeout=TIMEOUT)
            assert login.status_code in (302, 307), login.text
            picked = browser.post(login.headers["location"], data={"username": "alice"}, allow_redirects=False,
                                  timeout=TIMEOUT)
            # The login's state cookie is Secure now, so an HTTP client keeps it to itself; send it back
            # as a browser on https://<domain> (behind Traefik) does.
            state = "; ".join(header.split(";")[0] for header in login.raw.headers.getlist("Set-Cookie"))
            callback = requests.get(picked.headers["location"], headers={"Cookie": state}, allow_redirects=False,
                                    timeout=TIMEOUT)
            assert callback.status_code in (302, 307), server.process.log_tail()
            headers = callback.raw.headers.getlist("Set-Cookie") + login.raw.headers.getlist("Set-Cookie")
            health = requests.get(f"{server.url}/_stcore/health", timeout=TIMEOUT)
            headers += health.raw.headers.getlist("Set-Cookie")
            yield headers, secret
        finally:
            server.stop()


def attributes(header: str) -> dict[str, str]:
    first, *rest = [part.strip() for part in header.split(";")]
    found = {"name": first.partition("=")[0], "value": first.partition("=")[2]}
    found.update({part.partition("=")[0].lower(): part.partition("=")[2] for part in rest})
    return found


def test_the_login_cookies_are_secure_and_last_the_configured_time(logged_in):
    headers, _ = logged_in
    cookies = [attributes(header) for header in headers]
    names = {cookie["name"] for cookie in cookies}
    assert {"_streamlit_user", "_streamlit_user_tokens"} <= names, headers
    for cookie in cookies:
        assert "secure" in cookie, f"{cookie['name']} is sent over plain HTTP too: {cookie}"
        if is_login_cookie(cookie["name"]) and cookie["value"]:
            assert "httponly" in cookie and int(cookie["max-age"]) == LOGIN_MAX_AGE, cookie


def test_a_login_cookie_older_than_the_lifetime_is_refused_by_the_server(logged_in):
    """The stolen-cookie attack: a browser that ignores Max-Age (or a copy of the cookie) replays it later."""
    headers, secret = logged_in
    real = {attributes(h)["name"]: attributes(h)["value"].strip('"') for h in headers
            if is_login_cookie(attributes(h)["name"])}
    seen = []

    async def streamlit(scope, receive, send):
        seen.append(dict(scope["headers"]).get(b"cookie", b"").decode())

    async def nothing():
        return {"type": "websocket.connect"}

    async def ignore(message):
        pass

    def handshake(cookie_header: str, now: float) -> str:
        middleware = CookiePolicyMiddleware(streamlit, CookiePolicy(login_max_age=LOGIN_MAX_AGE), lambda: secret,
                                            clock=lambda: now)
        scope = {"type": "websocket", "path": "/_stcore/stream", "headers": [(b"cookie", cookie_header.encode())]}
        asyncio.run(middleware(scope, nothing, ignore))
        return seen.pop()

    header = "; ".join(f"{name}={value}" for name, value in real.items()) + "; _streamlit_xsrf=x"
    assert handshake(header, time.time()) == header  # a fresh login passes untouched
    later = handshake(header, time.time() + LOGIN_MAX_AGE + 5)
    assert later == "_streamlit_xsrf=x", later  # the whole login is gone, the rest stays

    class LongAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - LOGIN_MAX_AGE - 60

    forged_old = URLSafeTimedSerializer(secret, salt="_streamlit_user", signer=LongAgo).dumps('{"is_logged_in": true}')
    assert handshake(f"_streamlit_user={forged_old}", time.time()) == ""
    # A cookie the secret did not sign is left for Streamlit to refuse (it clears it).
    foreign = URLSafeTimedSerializer("another-secret", salt="_streamlit_user", signer=LongAgo).dumps("{}")
    assert handshake(f"_streamlit_user={foreign}", time.time()) == f"_streamlit_user={foreign}"


@pytest.mark.parametrize(("header", "expected"), [
    ("_streamlit_user=v; Path=/; HttpOnly; SameSite=lax; Max-Age=2592000",
     "_streamlit_user=v; Path=/; HttpOnly; SameSite=lax; Max-Age=600; Secure"),
    ('_streamlit_user_tokens_1=v; HttpOnly; Path=/; SameSite=lax; Max-Age=60',
     '_streamlit_user_tokens_1=v; HttpOnly; Path=/; SameSite=lax; Max-Age=60; Secure'),
    # Log-out: the deletion stays a deletion.
    ('_streamlit_user=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/',
     '_streamlit_user=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure'),
    ("_streamlit_user=v; Path=/; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
     "_streamlit_user=v; Path=/; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=600; Secure"),
    ("_streamlit_xsrf=t; Path=/; SameSite=Lax; Secure", "_streamlit_xsrf=t; Path=/; SameSite=Lax; Secure"),
])
def test_set_cookie_rewriting(header, expected):
    assert harden_set_cookie(header, CookiePolicy(login_max_age=600)) == expected


@pytest.mark.parametrize(("environ", "problem"), [
    ({"DRIFT_DASHBOARD_LOGIN_MAX_AGE": "forever"}, "DRIFT_DASHBOARD_LOGIN_MAX_AGE"),
    ({"DRIFT_DASHBOARD_LOGIN_MAX_AGE": "99999999"}, "30 days"),
    ({"DRIFT_DASHBOARD_SECURE_COOKIES": "maybe"}, "DRIFT_DASHBOARD_SECURE_COOKIES"),
])
def test_bad_cookie_settings_stop_the_start(environ, problem):
    with pytest.raises(ValueError, match=problem):
        CookiePolicy.from_environment(environ)
    assert CookiePolicy.from_environment({}) == CookiePolicy(secure=True, login_max_age=8 * 3600)
