"""The ``drift-monitor`` command: inspect the service and the local spool from a shell.

Settings come from the environment, as for the library (DRIFT_MONITOR_URL, DRIFT_MONITOR_TOKEN,
DRIFT_MONITOR_MYTOKEN, DRIFT_MONITOR_SPOOL_DIR, ...); ``--url`` and ``--token`` override them.

Exit status: 0 success, 1 the server refused or could not be reached (one line on stderr says
what to do), 2 usage or configuration error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from ._api import Client
from ._exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    DriftMonitorError,
    ExperimentNotFound,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    ValidationError,
)
from ._settings import Settings
from ._spool import ReplayResult, Spool

__all__ = ["main"]

PROG = "drift-monitor"
JOB_STATUSES = ("Running", "Completed", "Failed")
FORMATS = ("table", "csv", "json")
#: Show a progress counter on a terminal when the spool holds at least this many operations.
PROGRESS_THRESHOLD = 20

EXPERIMENT_COLUMNS = ("id", "name", "public", "description")
DRIFT_COLUMNS = ("id", "created_at", "model", "job_status", "drift_detected", "concept_drift", "data_drift", "tags")


class _Failure(Exception):
    """An expected failure: print ``message`` on stderr and exit with ``status``."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


# Argument types -------------------------------------------------------------------------

def _timestamp(text: str) -> dt.datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _permission(text: str) -> tuple[str, str]:
    entity, separator, level = text.rpartition("=")
    if not separator or not entity or not level:
        raise argparse.ArgumentTypeError(f"expected ENTITY=LEVEL (e.g. group-a=Read), not {text!r}")
    return entity, level


# Parser ---------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Command line of the Drift Monitoring service. Settings are read from the environment "
                    "(DRIFT_MONITOR_URL, DRIFT_MONITOR_TOKEN or DRIFT_MONITOR_MYTOKEN, DRIFT_MONITOR_SPOOL_DIR, ...).",
        epilog="Exit status: 0 success, 1 API or connection error, 2 usage or configuration error, "
               "130 interrupted.")
    parser.add_argument("--url", help="server URL (overrides DRIFT_MONITOR_URL)")
    parser.add_argument("--token", help="access token (overrides DRIFT_MONITOR_TOKEN)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    whoami = commands.add_parser("whoami", help="show your user record and entitlements")
    whoami.set_defaults(handler=_whoami)

    register = commands.add_parser(
        "register", help="register your user (refresh the record if already registered)",
        description="Register the token's user; by registering you accept the service's terms of use. "
                    "If you are already registered, your record is refreshed from the token.")
    register.set_defaults(handler=_register)

    experiments = commands.add_parser("experiments", help="list or create experiments")
    experiment_commands = experiments.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    listing = experiment_commands.add_parser("list", help="the experiments you can read")
    listing.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    listing.set_defaults(handler=_experiments_list)
    create = experiment_commands.add_parser("create", help="create an experiment (you get Manage on it)")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--description", default="", metavar="D")
    create.add_argument("--public", action="store_true", help="let every registered user read it")
    create.add_argument("--permission", type=_permission, action="extend", nargs="+", default=[],
                        metavar="ENTITY=LEVEL", help="grant LEVEL (Read, Edit, Manage) to ENTITY; repeatable")
    create.set_defaults(handler=_experiments_create)

    drifts = commands.add_parser("drifts", help="list drift runs")
    drift_commands = drifts.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    drift_list = drift_commands.add_parser("list", help="the drift runs of an experiment, oldest first (all pages)")
    drift_list.add_argument("experiment", metavar="EXPERIMENT", help="the name of one of your experiments, or an experiment id")
    drift_list.add_argument("--since", type=_timestamp, metavar="ISO", help="runs created at or after this time")
    drift_list.add_argument("--until", type=_timestamp, metavar="ISO", help="runs created before this time")
    drift_list.add_argument("--model", metavar="M", help="only runs of this model")
    drift_list.add_argument("--status", choices=JOB_STATUSES, help="only runs with this job status")
    drift_list.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    drift_list.set_defaults(handler=_drifts_list)

    sync = commands.add_parser("sync", help="send the runs waiting in the local spool")
    sync.set_defaults(handler=_sync)

    spool = commands.add_parser("spool", help="inspect the local spool")
    spool_commands = spool.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    status = spool_commands.add_parser("status", help="pending operations, runs, oldest, spool directory")
    status.set_defaults(handler=_spool_status)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


# Output ---------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping) and "drift" in value:  # a concept/data drift result
        return _cell(value.get("drift"))
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    return str(value).replace("\n", " ")


def _emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump([dict(row) for row in rows], out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
        return
    table = [list(columns)] + [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
    for line in table:
        out.write("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() + "\n")


# Commands -------------------------------------------------------------------------------

def _whoami(args: argparse.Namespace, client: Client) -> int:
    user = client.get_self()
    entitlements = client.entitlements()
    for key in ("id", "subject", "issuer", "email"):
        if user.get(key) is not None:
            print(f"{key + ':':<14}{user[key]}")
    print(f"{'entitlements:':<14}{', '.join(entitlements) if entitlements else '(none)'}")
    return 0


def _register(args: argparse.Namespace, client: Client) -> int:
    try:
        user = client.register()
        action = "Registered"
    except Conflict:
        user = client.update_self()
        action = "Already registered; refreshed the record of"
    who = user.get("email") or user.get("subject") or user.get("id")
    print(f"{action} {who}")
    return 0


def _experiments_list(args: argparse.Namespace, client: Client) -> int:
    rows = list(client.search_experiments(sort_by="name", order_by="asc"))
    _emit(rows, EXPERIMENT_COLUMNS, args.format, sys.stdout)
    return 0


def _experiments_create(args: argparse.Namespace, client: Client) -> int:
    permissions = [{"entity": entity, "level": level} for entity, level in args.permission]
    experiment = client.create_experiment(args.name, args.description, args.public, permissions)
    print(f"Created experiment {experiment.get('name')} (id {experiment.get('id')})")
    return 0


def _resolve_experiment(client: Client, name_or_id: str) -> Mapping[str, Any]:
    # A name matches only your own experiments (find_experiment); anything else must be an id,
    # which the server assigns, so nobody can make one look like another.
    try:
        return client.find_experiment(name_or_id)
    except ExperimentNotFound as by_name:
        try:
            return client.get_experiment(name_or_id)
        except (NotFound, ValidationError):
            raise by_name from None


def _drifts_list(args: argparse.Namespace, client: Client) -> int:
    experiment = _resolve_experiment(client, args.experiment)
    conditions: dict[str, Any] = {}
    if args.model is not None:
        conditions["model"] = args.model
    if args.status is not None:
        conditions["job_status"] = args.status
    runs = client.get_drifts(experiment, conditions or None, args.since, args.until)
    _emit(runs, DRIFT_COLUMNS, args.format, sys.stdout)
    return 0


def _sync(args: argparse.Namespace, client: Client) -> int:
    spool = Spool(client.settings.spool_dir)
    total = len(spool.pending())
    if not total:
        print(f"Nothing to send: the spool ({spool.directory}) is empty.")
        return 0
    client.settings.require_url()  # a missing URL is a configuration error, not an outage
    show_progress = total >= PROGRESS_THRESHOLD and sys.stderr.isatty()
    result = spool.replay(client, progress=_show_progress if show_progress else None)
    print(_summary(result, spool))
    if result.remaining:
        raise _Failure(f"{result.remaining} operation(s) still wait in {spool.directory}: the server could not "
                       "take them now (or another sync is running); check DRIFT_MONITOR_URL and run "
                       f"`{PROG} sync` again later")
    if result.rejected or result.corrupt:
        raise _Failure(f"some spooled operations could not be sent and were set aside in "
                       f"{spool.directory / 'rejected'} or {spool.directory / 'corrupt'}; see the warnings above")
    return 0


def _show_progress(done: int, total: int) -> None:
    sys.stderr.write(f"\rSending spooled operations: {done}/{total}" + ("\n" if done == total else ""))
    sys.stderr.flush()


def _summary(result: ReplayResult, spool: Spool) -> str:
    parts = [f"Sent {result.uploaded} operation(s)"]
    if result.rejected:
        parts.append(f"{result.rejected} refused by the server (kept in {spool.directory / 'rejected'})")
    if result.corrupt:
        parts.append(f"{result.corrupt} unreadable (moved to {spool.directory / 'corrupt'})")
    parts.append(f"{result.remaining} still pending")
    return "; ".join(parts) + "."


def _spool_status(args: argparse.Namespace, settings: Settings) -> int:
    spool = Spool(settings.spool_dir)
    pending = spool.pending()
    runs = {_run_id(path.name) for path in pending}
    print(f"{'Spool directory:':<20}{spool.directory}")
    print(f"{'Pending operations:':<20}{len(pending)}")
    print(f"{'Runs:':<20}{len(runs)}")
    if pending:
        oldest = _spooled_at(pending[0].name)
        if oldest is not None:
            age = dt.datetime.now(dt.timezone.utc) - oldest
            print(f"{'Oldest:':<20}{oldest.isoformat(timespec='seconds').replace('+00:00', 'Z')} "
                  f"({_age(age)} ago)")
    for folder in ("rejected", "corrupt"):
        directory = spool.directory / folder
        count = len(list(directory.glob("*.json"))) if directory.is_dir() else 0
        if count:
            print(f"{folder.capitalize() + ':':<20}{count} (in {directory})")
    if pending:
        print(f"Run `{PROG} sync` to send them.")
    return 0


def _run_id(name: str) -> str:
    """The run id of a spool file ``<sequence>-<run id>-<op>.json``."""
    stem = name[:-len(".json")] if name.endswith(".json") else name
    return stem.split("-", 1)[-1].rsplit("-", 1)[0]


def _spooled_at(name: str) -> dt.datetime | None:
    try:
        nanoseconds = int(name.split("-", 1)[0])
    except ValueError:
        return None
    return dt.datetime.fromtimestamp(nanoseconds / 1e9, dt.timezone.utc)


def _age(delta: dt.timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


# Errors ---------------------------------------------------------------------------------

def _advice(error: DriftMonitorError, settings: Settings | None) -> str:
    """One line: what went wrong and what to do about it."""
    if isinstance(error, AuthenticationError):
        return (f"the server refused your access token ({error.status} {error.message}): set a valid "
                "DRIFT_MONITOR_TOKEN or DRIFT_MONITOR_MYTOKEN (or pass --token); it may have expired")
    if isinstance(error, PermissionDenied):
        return (f"permission denied ({error.status} {error.message}): run `{PROG} register` if you have not "
                "registered yet, or ask the experiment's owner for a permission")
    if isinstance(error, ExperimentNotFound):
        return f"{error.message}; see `{PROG} experiments list`"
    if isinstance(error, NotFound):
        return f"not found ({error.status} {error.message}); see `{PROG} experiments list`"
    if isinstance(error, Conflict):
        return f"conflict ({error.status} {error.message}); e.g. the name is taken: choose another one"
    if isinstance(error, ValidationError):
        detail = f": {_compact(error.errors)}" if error.errors else ""
        return f"the server refused the request ({error.status} {error.message}){detail}"
    if isinstance(error, ServerError):
        return f"the server failed ({error.status} {error.message}); try again later or tell its operators"
    if isinstance(error, APIError):
        return f"the server answered {error.status} {error.message}"
    if isinstance(error, TransportError):
        url = settings.url if settings is not None else None
        return (f"could not reach the server{f' at {url}' if url else ''} ({_root_cause(error)}): check "
                "DRIFT_MONITOR_URL (or --url) and your network, then try again")
    return str(error)


def _compact(errors: Any) -> str:
    if isinstance(errors, (dict, list)):
        return json.dumps(errors, separators=(", ", ": "), default=str)
    return str(errors)


def _root_cause(error: BaseException) -> str:
    cause: BaseException = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause) or type(cause).__name__
    if "Max retries exceeded" in text and "(Caused by" in text:
        text = text.rsplit("(Caused by", 1)[1].rstrip(")")
    return " ".join(text.split())[:200]


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()


# Entry point ----------------------------------------------------------------------------

def main(argv: Iterable[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    settings: Settings | None = None
    try:
        try:
            args = parser.parse_args(None if argv is None else list(argv))
        except SystemExit as exit:  # --help, --version, usage errors (status 2)
            return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 2)
        settings = Settings.resolve().with_overrides(url=args.url, token=args.token)
        if args.handler is _spool_status:
            return _spool_status(args, settings)
        with Client(settings) as client:
            return args.handler(args, client)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        return 130
    except ConfigurationError as error:
        _fail(str(error).replace("pass url=...", "pass --url"))
        return 2
    except _Failure as failure:
        _fail(str(failure))
        return failure.status
    except DriftMonitorError as error:
        _fail(_advice(error, settings))
        return 1
    except BrokenPipeError:  # e.g. `drift-monitor drifts list x | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    finally:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
