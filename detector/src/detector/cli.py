"""The `detector` command line: fit, run (once or on an interval), projects, show.

Exit status: 0 done (drift or not); 1 the run failed (unreadable data, missing columns, wrong types,
empty batch, a plug-in failing, the server refusing the run) and was reported Failed where
possible; 2 usage or configuration error, unknown project; 130 interrupted (Ctrl-C); 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .config_keys import KEYS, key
from .redact import mask_secrets

log = logging.getLogger("detector")

EPILOG = """\
settings: command-line option > DETECTOR_* environment variable > configuration file
(--config or DETECTOR_CONFIG) > the project's stored configuration (run) > default.
Reporting uses the drift-monitor client's settings: DRIFT_MONITOR_URL, DRIFT_MONITOR_TOKEN or
DRIFT_MONITOR_MYTOKEN, ... See detector/README.md.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detector", description="Fit reference profiles and detect drift in new "
                                     "data; report each run to Drift Monitoring.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("DETECTOR_LOG_LEVEL", "INFO"),
                        help="DEBUG, INFO (default), WARNING or ERROR (DETECTOR_LOG_LEVEL)")
    parser.add_argument("--progress", default=os.environ.get("DETECTOR_PROGRESS", "auto"),
                        choices=("auto", "bar", "log", "off"),
                        help="a progress bar (terminal), log lines, or nothing; auto: bar on a terminal "
                             "(DETECTOR_PROGRESS)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, project: bool = True) -> None:
        # Also after the command (`detector run --log-level DEBUG`); SUPPRESS keeps the global value.
        sub.add_argument("--log-level", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument("--progress", default=argparse.SUPPRESS, choices=("auto", "bar", "log", "off"),
                         help=argparse.SUPPRESS)
        sub.add_argument("--config", "-c", default=os.environ.get("DETECTOR_CONFIG") or None,
                         help="YAML configuration file or URL (DETECTOR_CONFIG)")
        sub.add_argument("--artifacts", help=key("artifacts").cli_help())
        if project:
            sub.add_argument("--project", "-p", help=key("project").cli_help())

    fit = commands.add_parser("fit", help="profile the reference data and store the project")
    common(fit)
    fit.add_argument("--reference", "-r", metavar="SOURCE", help=key("reference").cli_help())
    fit.add_argument("--since", help=key("since").cli_help("only reference rows at or after this time (ISO 8601; "
                                                           "needs timestamp_column)"))
    fit.add_argument("--until", help=key("until").cli_help("only reference rows before this time"))

    run = commands.add_parser("run", help="test a batch against a fitted project and report it")
    common(run)
    run.add_argument("--current", "-i", metavar="SOURCE", help=key("current").cli_help())
    run.add_argument("--since", help=key("since").cli_help())
    run.add_argument("--until", help=key("until").cli_help())
    run.add_argument("--detector", metavar="MODULE:FUNCTION", help=key("detector").cli_help())
    run.add_argument("--experiment", help=key("experiment").cli_help())
    run.add_argument("--experiment-id", metavar="ID", help=key("experiment_id").cli_help())
    run.add_argument("--model", help=key("model").cli_help())
    run.add_argument("--tag", action="append", dest="tags", metavar="TAG", help=key("tags").cli_help())
    run.add_argument("--no-report", action="store_true", help="send nothing to the server; print the result")
    run.add_argument("--output", "-o", metavar="FILE", help="also write the result as JSON to FILE ('-': stdout)")
    run.add_argument("--interval", type=float, metavar="SECONDS", help=key("interval").cli_help())

    projects = commands.add_parser("projects", help="list the fitted projects and their last run")
    common(projects, project=False)
    projects.add_argument("--format", choices=("table", "json"), default="table")

    show = commands.add_parser("show", help="print a project's configuration and profile summary")
    common(show)
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration keys (dotted) the options set: each declared key's option has the key's name as dest."""
    values = {declared.target: getattr(args, declared.name, None) for declared in KEYS if declared.option}
    if getattr(args, "no_report", False):
        values["report"] = False
    return {key: value for key, value in values.items() if value is not None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    _setup_logging(args.log_level)
    from .errors import DetectorError
    from .schedule import Terminated

    try:
        return {"fit": _fit, "run": _run, "projects": _projects, "show": _show}[args.command](args)
    except DetectorError as error:
        log.error("%s", error)
        return error.exit_code
    except Terminated as stopped:
        log.error("%s", stopped)
        return stopped.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as error:
        from drift_monitor import ConfigurationError, DriftMonitorError

        if isinstance(error, ConfigurationError):
            log.error("%s", error)
            return 2
        if isinstance(error, DriftMonitorError):
            notes = " ".join(getattr(error, "__notes__", []))
            log.error("the server refused the run: %s %s", error, notes)
            return 1
        log.exception("unexpected error (a bug: please report it with this trace)")
        return 1


def _fit(args: argparse.Namespace) -> int:
    from .progress import Progress
    from .runner import fit, load_fit_config

    config = load_fit_config(args.config, _overrides(args))
    summary = fit(config, Progress(args.progress))
    print(json.dumps(summary, indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from .errors import ProjectNotFound
    from .progress import Progress
    from .registry import registry_for
    from .runner import load_layered_config, load_run_config, outcome_json, report_failure, run_once
    from .schedule import SignalGuard, run_every

    overrides = _overrides(args)
    try:
        config = load_run_config(args.config, overrides)
    except ProjectNotFound as error:
        _, preliminary = load_layered_config(args.config, overrides)
        run_id = report_failure(preliminary, error)
        if run_id:
            log.info("reported run %s as Failed", run_id)
        raise
    registry_for(config)  # a broken plug-in is a configuration error: fail before any run
    progress = Progress(args.progress)

    def once() -> None:
        # Re-read every time: a new `detector fit` or an edited file applies from the next run on.
        current = load_run_config(args.config, overrides) if config.interval else config
        outcome = run_once(current, progress=progress)
        if args.output:
            _write(args.output, outcome_json(outcome))
        elif not current.report:
            print(outcome_json(outcome))

    if not config.interval:
        with SignalGuard(graceful=False) as guard:
            guard.running = True
            once()
        return 0

    def on_error(error: Exception) -> None:
        log.error("run failed: %s", error)

    log.info("running project %s every %g s; SIGTERM or Ctrl-C stops", config.project, config.interval)
    with SignalGuard(graceful=True) as guard:
        run_every(config.interval, once, guard, on_error)
    return 0


def _write(target: str, text: str) -> None:
    if target == "-":
        print(text)
        return
    with open(target, "w", encoding="utf-8") as stream:
        stream.write(text + "\n")


def _projects(args: argparse.Namespace) -> int:
    from .artifacts import ArtifactStore
    from .runner import load_fit_config

    config = load_fit_config(args.config, _overrides(args))
    index = ArtifactStore(config.artifacts, config.storage_options).index()
    # Older detectors stored sources less masked.
    projects = {name: mask_secrets(entry) for name, entry in index.get("projects", {}).items()}
    if args.format == "json":
        print(json.dumps(projects, indent=2, sort_keys=True))
        return 0
    rows = [("PROJECT", "STATUS", "FITTED", "FEATURES", "LAST RUN", "DRIFT", "EXPERIMENT")]
    for name, entry in sorted(projects.items()):
        last = entry.get("last_run", {})
        drift = last.get("drift_detected")
        rows.append((name, entry.get("status", ""), entry.get("fitted_at", ""), str(entry.get("n_features", "")),
                     last.get("at", ""), "" if drift is None else ("yes" if drift else "no"),
                     entry.get("experiment", "")))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _masked_configuration(configuration: dict) -> dict:
    from .config import Config
    from .runner import _stored_configuration

    try:
        return _stored_configuration(Config.from_mapping(configuration))
    except Exception:  # not valid any more (older version): mask every value under a credential name
        return mask_secrets(configuration)


def _show(args: argparse.Namespace) -> int:
    import yaml

    from .artifacts import ArtifactStore
    from .runner import load_fit_config

    config = load_fit_config(args.config, _overrides(args))
    project = config.require_project()
    store = ArtifactStore(config.artifacts, config.storage_options)
    profile = store.load_profile(project)
    summary = {
        "project": project,
        # Masked again when shown: artifacts written by older detectors kept more in the clear.
        "configuration": _masked_configuration(store.load_configuration(project)),
        "profile": {key: value for key, value in profile.items()
                    if key not in ("features", "label", "prediction", "performance")},
        # The confusion matrix and the grouped errors are for the bootstrap, not for reading.
        "performance": {key: value for key, value in (profile.get("performance") or {}).items()
                        if key not in ("confusion", "errors")},
        "features": {name: {key: value for key, value in spec.items() if key not in ("sample", "frequencies")}
                     for name, spec in profile["features"].items()},
        "index": store.index().get("projects", {}).get(project, {}),
    }
    summary["profile"] = mask_secrets(summary["profile"])
    summary["index"] = mask_secrets(summary["index"])
    print(yaml.safe_dump(summary, sort_keys=False, allow_unicode=True))
    return 0
