"""WSGI entry point: `FLASK_APP=backend/autoapp:app flask run`, or gunicorn via gunicorn.conf.py."""

import sys

from drift_backend import create_app
from drift_backend.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:
    # A configuration mistake deserves one clear line, not a traceback.
    sys.exit(f"drift-monitor backend: configuration error: {error}")
