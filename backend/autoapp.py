"""WSGI entry point: `FLASK_APP=backend/autoapp:app flask run`, or gunicorn via gunicorn.conf.py."""

from drift_backend import create_app

app = create_app()
