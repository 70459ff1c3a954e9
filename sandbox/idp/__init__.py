"""Sandbox OpenID Connect identity provider, for development and tests only.

A small but real OIDC provider built on Authlib's server components: discovery,
JWKS, authorization code flow with PKCE, refresh tokens, userinfo, a
MyToken-compatible token exchange and a few ``/sandbox/`` helpers for tests.
All state (keys, codes, tokens) is in memory. Run it with
``python -m sandbox.idp``; start it from tests with ``sandbox.idp.launcher``.

This package deliberately imports nothing on import, so that
``sandbox.idp.launcher`` stays cheap for test code that only needs the launcher.
"""
