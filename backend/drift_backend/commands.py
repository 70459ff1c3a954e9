"""Operator commands of the Flask CLI: `flask --app backend/autoapp.py rebuild-summaries`."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from .errors import NotFound
from .repositories.experiments import Experiments
from .repositories.summaries import DriftSummaries, create_indexes, mark_ready


@click.command("rebuild-summaries")
@click.option("--experiment", "experiment_id", metavar="ID", help="Only this experiment (default: all).")
@with_appcontext
def rebuild_summaries(experiment_id: str | None) -> None:
    """Recompute the drift summaries (per-day run counters) from the stored runs.

    Each run write updates its counter right after the run itself; a server that dies between
    the two leaves that run uncounted (or counted in its old state). Run this after such a crash,
    or before starting a new server version on a large database so that its first start does not
    have to. Runs written while an experiment is being rebuilt may be miscounted: run it when
    writes are quiet, or run it again.
    """
    mongo = current_app.extensions["mongo"]
    # The unprepared database: preparing it would start the same rebuild a first time.
    db = mongo.client[current_app.extensions["settings"].database_name]
    create_indexes(db)
    if experiment_id is not None:
        try:
            Experiments(db).get(experiment_id)
        except NotFound:
            raise click.ClickException(f"no experiment with id {experiment_id!r}") from None
    started = time.monotonic()
    written = DriftSummaries(db).rebuild(experiment_id)
    if experiment_id is None:
        mark_ready(db)
    scope = f"experiment {experiment_id}" if experiment_id else "all experiments"
    click.echo(f"rebuilt the drift summaries of {scope}: {written} counters in {time.monotonic() - started:.1f} s")
