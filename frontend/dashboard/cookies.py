"""The dashboard's cookie policy: every cookie Secure, and login cookies that live hours, not 30 days.

Streamlit 1.67 sets its login cookies (``_streamlit_user``, ``_streamlit_user_tokens`` — the latter holds
the user's access token — and their chunks ``_1``, ``_2``...) without ``Secure`` and with
``Max-Age`` of 30 days, and offers no setting for either. Traefik cannot edit a ``Set-Cookie`` header
either, so this ASGI middleware, wrapped around Streamlit's app by ``frontend/server.py``, does it:

* responses: ``Secure`` is added to every cookie (when the policy says so), and a login cookie's
  ``Max-Age`` is cut to the policy's lifetime;
* requests and WebSocket handshakes: login cookies signed longer ago than that lifetime are removed
  before Streamlit reads them, so a copied cookie stops working on the server too, whatever the
  browser that holds it does with ``Max-Age``. The signature's own timestamp is the login time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie

#: Streamlit's login cookie names all start with this (the identity, the tokens and their chunks).
LOGIN_COOKIE_PREFIX = "_streamlit_user"
#: Streamlit's own lifetime of a login; a policy may only shorten it.
STREAMLIT_LOGIN_MAX_AGE = 30 * 24 * 3600
DEFAULT_LOGIN_MAX_AGE = 8 * 3600

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class CookiePolicy:
    """``secure``: mark every cookie Secure (the dashboard is served over HTTPS only).
    ``login_max_age``: seconds a login lasts, from the moment the identity provider sent the user back."""

    secure: bool = True
    login_max_age: int = DEFAULT_LOGIN_MAX_AGE

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> CookiePolicy:
        """``DRIFT_DASHBOARD_SECURE_COOKIES`` (default true) and ``DRIFT_DASHBOARD_LOGIN_MAX_AGE``
        (seconds, default 8 hours, at most Streamlit's 30 days). A bad value stops the start-up."""
        secure_text = environ.get("DRIFT_DASHBOARD_SECURE_COOKIES", "").strip().lower() or "true"
        if secure_text not in _TRUE | _FALSE:
            raise ValueError(f"DRIFT_DASHBOARD_SECURE_COOKIES must be true or false, not {secure_text!r}")
        age_text = environ.get("DRIFT_DASHBOARD_LOGIN_MAX_AGE", "").strip() or str(DEFAULT_LOGIN_MAX_AGE)
        if not age_text.isdigit() or not 60 <= int(age_text) <= STREAMLIT_LOGIN_MAX_AGE:
            raise ValueError("DRIFT_DASHBOARD_LOGIN_MAX_AGE must be a number of seconds from 60 to "
                             f"{STREAMLIT_LOGIN_MAX_AGE} (30 days), not {age_text!r}")
        return cls(secure=secure_text in _TRUE, login_max_age=int(age_text))


def is_login_cookie(name: str) -> bool:
    return name.startswith(LOGIN_COOKIE_PREFIX)


def harden_set_cookie(header: str, policy: CookiePolicy, now: dt.datetime | None = None) -> str:
    """One ``Set-Cookie`` value rewritten by the policy (the cookie's name and value untouched)."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name = first.partition("=")[0].strip()
    names = {attribute.partition("=")[0].strip().lower(): index for index, attribute in enumerate(attributes)}
    if is_login_cookie(name):
        if "max-age" in names:
            index = names["max-age"]
            given = attributes[index].partition("=")[2].strip()
            # 0 or less deletes the cookie (log-out): keep it.
            if given.lstrip("-").isdigit() and int(given) > policy.login_max_age:
                attributes[index] = f"Max-Age={policy.login_max_age}"
        elif not _expires_in_the_past(attributes[names["expires"]] if "expires" in names else None, now):
            attributes.append(f"Max-Age={policy.login_max_age}")
    if policy.secure and "secure" not in names:
        attributes.append("Secure")
    return "; ".join([first, *attributes])


def _expires_in_the_past(attribute: str | None, now: dt.datetime | None) -> bool:
    if attribute is None:
        return False
    try:
        expires = parsedate_to_datetime(attribute.partition("=")[2].strip())
    except (TypeError, ValueError):
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return expires <= (now or dt.datetime.now(dt.timezone.utc))


def login_signed_at(name: str, value: str, secret: str) -> int | None:
    """When Streamlit signed a login cookie (Unix seconds), or None if ``secret`` did not sign it."""
    from itsdangerous import BadData, URLSafeTimedSerializer

    try:
        _, signed_at = URLSafeTimedSerializer(secret, salt=name).loads(value, return_timestamp=True)
    except BadData:
        return None
    return int(signed_at.timestamp())


def without_expired_login(cookie_header: str, policy: CookiePolicy, secret: str, now: float) -> str | None:
    """The ``Cookie`` header with every login cookie removed when one of them is older than the
    policy's lifetime (a login is all or nothing); None when nothing needs removing."""
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except Exception:  # noqa: BLE001 - a header Python cannot parse is Streamlit's to judge
        return None
    expired = False
    for name, morsel in cookies.items():
        if is_login_cookie(name):
            signed_at = login_signed_at(name, morsel.value, secret)
            if signed_at is not None and now - signed_at > policy.login_max_age:
                expired = True
    if not expired:
        return None
    kept = [part.strip() for part in cookie_header.split(";")
            if part.strip() and not is_login_cookie(part.strip().partition("=")[0].strip())]
    return "; ".join(kept)


class CookiePolicyMiddleware:
    """ASGI middleware applying a CookiePolicy to Streamlit's HTTP responses and WebSocket handshakes.

    ``signing_secret`` returns the secret Streamlit signs its cookies with (st.login's
    ``cookie_secret``); it is asked per request because Streamlit loads its secrets after start-up.
    """

    def __init__(self, app, policy: CookiePolicy, signing_secret: Callable[[], str | None],
                 clock: Callable[[], float] | None = None):
        self.app = app
        self.policy = policy
        self.signing_secret = signing_secret
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc).timestamp())

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = self._drop_expired_login(scope)

        async def send_hardened(message):
            if message["type"] in ("http.response.start", "websocket.accept",
                                   "websocket.http.response.start") and message.get("headers"):
                message = {**message, "headers": [
                    (key, harden_set_cookie(value.decode("latin-1"), self.policy).encode("latin-1"))
                    if key.lower() == b"set-cookie" else (key, value)
                    for key, value in message["headers"]]}
            await send(message)

        await self.app(scope, receive, send_hardened)

    def _drop_expired_login(self, scope):
        headers = scope.get("headers") or []
        if not any(key.lower() == b"cookie" and LOGIN_COOKIE_PREFIX.encode() in value for key, value in headers):
            return scope
        secret = self.signing_secret()
        if not secret:
            return scope
        changed, rewritten = False, []
        for key, value in headers:
            if key.lower() == b"cookie":
                kept = without_expired_login(value.decode("latin-1"), self.policy, secret, self.clock())
                if kept is not None:
                    changed = True
                    if kept:
                        rewritten.append((key, kept.encode("latin-1")))
                    continue
            rewritten.append((key, value))
        return {**scope, "headers": rewritten} if changed else scope
