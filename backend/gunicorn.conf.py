"""gunicorn settings: `python -m gunicorn -c backend/gunicorn.conf.py --bind HOST:PORT`.

Defaults suit a small machine (2 cores); GUNICORN_WORKERS and GUNICORN_THREADS override them.
"""

import logging
import os
import threading

# Makes `autoapp` importable when gunicorn starts from the repository root.
pythonpath = os.path.dirname(os.path.abspath(__file__))
wsgi_app = "autoapp:app"

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:5000")
# Requests mostly wait on MongoDB and the identity provider, so threads serve them cheaply.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# No preload: each worker builds its own app and MongoDB client after the fork.
preload_app = False


def post_worker_init(worker):
    """Prepare the database (indexes, the one-time summaries build) when a worker starts, not on its
    first request; a down database only logs."""

    def prepare():
        try:
            worker.wsgi.extensions["mongo"].db  # noqa: B018 — first use prepares the database
        except Exception as error:  # the first request retries
            logging.getLogger("gunicorn.error").warning("database not prepared at start-up: %s", error)

    # The first start on a large database rebuilds the drift summaries, which may outlast `timeout`:
    # the worker keeps telling the arbiter it is alive, or it would be killed and the build restarted.
    preparing = threading.Thread(target=prepare, name="prepare-database", daemon=True)
    preparing.start()
    while preparing.is_alive():
        worker.notify()
        preparing.join(timeout=max(1, timeout / 4))


def worker_exit(server, worker):
    """Write the overview counters' changes still waiting to be merged before the worker goes: closing
    the app's database client first flushes its summary writer."""
    app = getattr(worker, "wsgi", None)
    if app is not None:  # None when the app failed to load
        app.extensions["mongo"].close()
