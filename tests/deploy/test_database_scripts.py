"""The database's scripts, run here with stand-ins for MongoDB's tools: the init script that creates the
application user (under Node, with a recording `db`), and the backup script (with fake mongodump and
mongorestore that record what they were asked)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from stack_files import REPO_ROOT

INIT_SCRIPT = REPO_ROOT / "deploy" / "database" / "create-app-user.js"
BACKUP_SCRIPT = REPO_ROOT / "deploy" / "backup" / "backup.sh"
PASSWORD = "s3cr'et pass"  # a quote and a space: the tools' config file must carry it intact
DAY = 24 * 3600

# --- the init script -----------------------------------------------------------------------------------------

RUN_INIT_SCRIPT = r"""
const fs = require("fs");
const vm = require("vm");
const calls = [];
const existing = process.env.USER_EXISTS === "1" ? { user: process.env.APP_DATABASE_USERNAME } : null;
const database = {
  getUser: (name) => { calls.push(["getUser", name]); return existing; },
  createUser: (spec) => calls.push(["createUser", spec]),
  updateUser: (name, spec) => calls.push(["updateUser", name, spec]),
};
const context = { db: { getSiblingDB: (name) => { calls.push(["getSiblingDB", name]); return database; } },
                  print: () => {}, require, process };
try {
  vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), context);
  console.log(JSON.stringify({ calls }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message) }));
}
"""


@pytest.fixture
def run_init_script(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed: it stands in for mongosh to run the init script")
    password_file = tmp_path / "app_database_password"
    password_file.write_text(PASSWORD + "\n")

    def run(**environ) -> dict:
        env = {"PATH": os.environ["PATH"], "APP_DATABASE_NAME": "drifts-data", "APP_DATABASE_USERNAME": "drift-monitor",
               "APP_DATABASE_PASSWORD_FILE": str(password_file), **environ}
        result = subprocess.run(["node", "-e", RUN_INIT_SCRIPT, str(INIT_SCRIPT)], env=env, capture_output=True,
                                text=True, timeout=30, check=True)
        return json.loads(result.stdout)

    return run


def test_the_init_script_creates_a_read_write_user_of_the_application_database_only(run_init_script):
    calls = run_init_script()["calls"]
    assert calls[0] == ["getSiblingDB", "drifts-data"]
    [created] = [call[1] for call in calls if call[0] == "createUser"]
    assert created == {"user": "drift-monitor", "pwd": PASSWORD,
                       "roles": [{"role": "readWrite", "db": "drifts-data"}]}


def test_the_init_script_updates_an_existing_user(run_init_script):
    calls = run_init_script(USER_EXISTS="1")["calls"]
    assert ["updateUser", "drift-monitor", {"pwd": PASSWORD, "roles": [{"role": "readWrite", "db": "drifts-data"}]}] in calls
    assert not [call for call in calls if call[0] == "createUser"]


@pytest.mark.parametrize("missing", ["APP_DATABASE_NAME", "APP_DATABASE_USERNAME", "APP_DATABASE_PASSWORD_FILE"])
def test_the_init_script_stops_on_a_missing_setting(run_init_script, missing):
    outcome = run_init_script(**{missing: ""})
    assert missing in outcome.get("error", ""), outcome


# --- the backup script ---------------------------------------------------------------------------------------

FAKE_TOOL = r"""#!/usr/bin/env bash
# Records its arguments and the --config file, then writes (or half-writes) the archive.
name=$(basename "$0")
printf '%s\n' "$@" > "$FAKE_LOG/$name.argv"
for argument; do
  case $argument in
    --config=*) cp "${argument#--config=}" "$FAKE_LOG/$name.config" ;;
    --archive=*) archive=${argument#--archive=} ;;
  esac
done
if [[ $name == mongodump ]]; then
  echo dump > "$archive"
fi
exit "${FAKE_EXIT:-0}"
"""


@pytest.fixture
def backup(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    tools, log, backups = tmp_path / "bin", tmp_path / "log", tmp_path / "backups"
    for folder in (tools, log, backups):
        folder.mkdir()
    for tool in ("mongodump", "mongorestore"):
        (tools / tool).write_text(FAKE_TOOL)
        (tools / tool).chmod(0o755)
    password_file = tmp_path / "app_database_password"
    password_file.write_text(f"  {PASSWORD}\n")

    class Backup:
        folder = backups
        logs = log

        def run(self, *arguments, **environ) -> subprocess.CompletedProcess:
            env = {"PATH": f"{tools}:{os.environ['PATH']}", "FAKE_LOG": str(log), "BACKUP_DIR": str(backups),
                   "APP_DATABASE_USERNAME": "drift-monitor", "APP_DATABASE_PASSWORD_FILE": str(password_file),
                   "BACKUP_RETENTION_DAYS": "7", **environ}
            return subprocess.run(["bash", str(BACKUP_SCRIPT), *arguments], env=env, capture_output=True, text=True,
                                  timeout=30, check=False)

        def archive(self, name: str, age_days: float):
            path = backups / name
            path.write_text("old dump")
            when = time.time() - age_days * DAY
            os.utime(path, (when, when))
            return path

        def argv(self, tool: str) -> list[str]:
            return (log / f"{tool}.argv").read_text().splitlines()

        def archives(self) -> list[str]:
            return sorted(path.name for path in backups.glob("drift-monitoring-*.archive.gz"))

    return Backup()


def test_a_dump_connects_as_the_app_user_with_the_password_in_a_config_file(backup):
    result = backup.run("once")
    assert result.returncode == 0, result.stderr
    [archive] = backup.archives()
    assert (backup.folder / archive).read_text() == "dump\n"
    argv = backup.argv("mongodump")
    assert "--username=drift-monitor" in argv and "--authenticationDatabase=drifts-data" in argv
    assert "--db=drifts-data" in argv and "--gzip" in argv
    assert not [argument for argument in argv if PASSWORD in argument], "the password is on the command line"
    assert (backup.logs / "mongodump.config").read_text() == "password: 's3cr''et pass'\n"
    assert not list(backup.folder.glob(".*.partial")), "the partial dump was not renamed"
    assert (backup.folder / ".last-success").is_file()


def test_a_dump_deletes_only_archives_past_the_retention(backup):
    expired = backup.archive("drift-monitoring-20200101T000000Z.archive.gz", age_days=8)
    kept = backup.archive("drift-monitoring-20200108T000000Z.archive.gz", age_days=6)
    unrelated = backup.archive("notes.txt", age_days=30)
    assert backup.run("once").returncode == 0
    assert not expired.exists()
    assert kept.exists() and unrelated.exists()
    assert len(backup.archives()) == 2


def test_a_failed_dump_keeps_every_archive_and_leaves_no_partial_file(backup):
    expired = backup.archive("drift-monitoring-20200101T000000Z.archive.gz", age_days=30)
    result = backup.run("once", FAKE_EXIT="1")
    assert result.returncode != 0
    assert "mongodump failed" in result.stderr
    assert expired.exists(), "a failing database must not cost the last good archives"
    assert backup.archives() == [expired.name]
    assert not list(backup.folder.glob(".*.partial"))
    assert not (backup.folder / ".last-success").exists()


def test_restore_replaces_the_application_database_from_an_archive(backup):
    backup.archive("drift-monitoring-20200101T000000Z.archive.gz", age_days=1)
    result = backup.run("restore", "drift-monitoring-20200101T000000Z.archive.gz")
    assert result.returncode == 0, result.stderr
    argv = backup.argv("mongorestore")
    assert f"--archive={backup.folder}/drift-monitoring-20200101T000000Z.archive.gz" in argv
    assert {"--drop", "--gzip", "--nsInclude=drifts-data.*", "--username=drift-monitor"} <= set(argv)
    assert not [argument for argument in argv if PASSWORD in argument]


def test_restore_of_an_unknown_archive_changes_nothing(backup):
    result = backup.run("restore", "drift-monitoring-nope.archive.gz")
    assert result.returncode != 0 and "no archive" in result.stderr
    assert not (backup.logs / "mongorestore.argv").exists()
    assert backup.run("restore").returncode != 0


def test_health_follows_the_last_successful_dump(backup):
    assert backup.run("health").returncode != 0, "healthy before any dump"
    assert backup.run("once").returncode == 0
    assert backup.run("health", BACKUP_INTERVAL_HOURS="24").returncode == 0
    stale = time.time() - 3 * DAY
    os.utime(backup.folder / ".last-success", (stale, stale))
    assert backup.run("health", BACKUP_INTERVAL_HOURS="24").returncode != 0


def test_the_list_shows_archives_oldest_first(backup):
    backup.archive("drift-monitoring-20200102T000000Z.archive.gz", age_days=1)
    backup.archive("drift-monitoring-20200101T000000Z.archive.gz", age_days=2)
    listing = backup.run("list").stdout.splitlines()
    assert [line.split()[-1] for line in listing] == ["drift-monitoring-20200101T000000Z.archive.gz",
                                                      "drift-monitoring-20200102T000000Z.archive.gz"]


@pytest.mark.parametrize("setting", ["BACKUP_RETENTION_DAYS", "BACKUP_INTERVAL_HOURS"])
def test_nonsense_settings_are_refused(backup, setting):
    result = backup.run("once", **{setting: "two"})
    assert result.returncode != 0 and setting in result.stderr
