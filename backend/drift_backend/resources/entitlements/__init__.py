"""Entitlements: the groups the caller's token carries."""
