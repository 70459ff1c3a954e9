"""Helpers the client tests import by name (a conftest cannot be imported reliably: every folder has one)."""

from urllib3.util import Retry

#: Fail over quickly in tests that expect an outage.
NO_RETRY = Retry(total=0, raise_on_status=False)
