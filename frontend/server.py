"""The dashboard's web server: Streamlit's app (streamlit_app.py) inside the cookie policy of
dashboard/cookies.py (Secure cookies, logins that last DRIFT_DASHBOARD_LOGIN_MAX_AGE seconds).

    streamlit run frontend/server.py

is what the image runs; `streamlit run frontend/streamlit_app.py` still works for local hacking, with
Streamlit's own cookies (no Secure, 30-day logins).
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from dashboard.cookies import CookiePolicy, CookiePolicyMiddleware


def _signing_secret() -> str | None:
    """The secret Streamlit signs its login cookies with (st.login's cookie_secret)."""
    from streamlit.auth_util import get_signing_secret

    try:
        return get_signing_secret()
    except Exception:  # noqa: BLE001 - no secrets file: no login, so no login cookie to check
        return None


# Read once at start-up: a bad setting stops the server before it serves anything.
app = st.App(
    Path(__file__).with_name("streamlit_app.py"),
    middleware=[Middleware(CookiePolicyMiddleware, policy=CookiePolicy.from_environment(),
                           signing_secret=_signing_secret)],
)
