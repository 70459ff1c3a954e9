"""Versions of the server and of its API."""

__version__ = "0.1.0"
API_VERSION = "v1"
