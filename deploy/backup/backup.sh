#!/usr/bin/env bash
# Backups of the application database: scheduled mongodump archives with retention, and restore.
#
#   drift-backup schedule          dump every BACKUP_INTERVAL_HOURS, delete archives older than
#                                  BACKUP_RETENTION_DAYS after each successful dump (the default command)
#   drift-backup once              one dump now, then the same pruning
#   drift-backup list              the archives, oldest first
#   drift-backup restore ARCHIVE   replace the application database's collections with ARCHIVE's
#                                  (a file name in BACKUP_DIR, or a path)
#   drift-backup health            exit 0 when the last successful dump is recent enough
#
# It connects as the application user (readWrite on the application database is all mongodump and
# mongorestore --drop need), never as root; the password is handed to the tools in a --config file,
# so it never appears in a process list.
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-/backups}
BACKUP_INTERVAL_HOURS=${BACKUP_INTERVAL_HOURS:-24}
BACKUP_RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-14}
BACKUP_PREFIX=${BACKUP_PREFIX:-drift-monitoring}
# After a failed dump, try again this much sooner than the interval.
BACKUP_RETRY_SECONDS=${BACKUP_RETRY_SECONDS:-900}
APP_DATABASE_HOST=${APP_DATABASE_HOST:-database}
APP_DATABASE_PORT=${APP_DATABASE_PORT:-27017}
APP_DATABASE_NAME=${APP_DATABASE_NAME:-drifts-data}
APP_DATABASE_PASSWORD_FILE=${APP_DATABASE_PASSWORD_FILE:-/run/secrets/app_database_password}

LAST_SUCCESS="$BACKUP_DIR/.last-success"
ARCHIVE_GLOB="$BACKUP_PREFIX-*.archive.gz"

log() { printf '%s drift-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
fail() { log "error: $*"; exit 1; }

positive_integer() {  # name value
  [[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || fail "$1 must be a positive whole number, got '$2'"
}

check_settings() {
  positive_integer BACKUP_INTERVAL_HOURS "$BACKUP_INTERVAL_HOURS"
  positive_integer BACKUP_RETENTION_DAYS "$BACKUP_RETENTION_DAYS"
  [[ -n ${APP_DATABASE_USERNAME:-} ]] || fail "APP_DATABASE_USERNAME is not set"
  [[ -r $APP_DATABASE_PASSWORD_FILE ]] || fail "cannot read the password file $APP_DATABASE_PASSWORD_FILE"
  [[ -d $BACKUP_DIR && -w $BACKUP_DIR ]] || fail "$BACKUP_DIR is not a writable directory"
}

# Writes a --config file holding the password (YAML single-quoted) and prints its path.
write_tool_config() {
  local config password
  config=$(mktemp)
  chmod 600 "$config"
  password=$(<"$APP_DATABASE_PASSWORD_FILE")
  # Trimmed like the backend and the init script trim it.
  password=${password#"${password%%[![:space:]]*}"}
  password=${password%"${password##*[![:space:]]}"}
  printf "password: '%s'\n" "${password//\'/\'\'}" >"$config"
  printf '%s' "$config"
}

connection_options() {
  printf '%s\n' --host="$APP_DATABASE_HOST" --port="$APP_DATABASE_PORT" \
    --username="$APP_DATABASE_USERNAME" --authenticationDatabase="$APP_DATABASE_NAME"
}

dump() {
  local stamp archive partial config status=0
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  archive="$BACKUP_DIR/$BACKUP_PREFIX-$stamp.archive.gz"
  # A half-written dump never carries the archive name: it is renamed only once complete.
  partial="$BACKUP_DIR/.$BACKUP_PREFIX-$stamp.partial"
  config=$(write_tool_config)
  local -a options
  mapfile -t options < <(connection_options)
  log "dumping $APP_DATABASE_NAME to $archive"
  mongodump "${options[@]}" --config="$config" --db="$APP_DATABASE_NAME" \
    --archive="$partial" --gzip --quiet || status=$?
  rm -f "$config"
  if [[ $status -ne 0 ]]; then
    rm -f "$partial"
    log "error: mongodump failed (exit $status); older archives are kept"
    return 1
  fi
  mv "$partial" "$archive"
  touch "$LAST_SUCCESS"
  log "wrote $archive ($(du -h "$archive" | cut -f1))"
  prune
}

# Deletes archives older than the retention; runs only after a successful dump, so a database that
# stays down never loses its last good archives.
prune() {
  local minutes=$((BACKUP_RETENTION_DAYS * 24 * 60)) old
  while IFS= read -r -d '' old; do
    log "deleting $old (older than $BACKUP_RETENTION_DAYS days)"
    rm -f "$old"
  done < <(find "$BACKUP_DIR" -maxdepth 1 -type f -name "$ARCHIVE_GLOB" -mmin "+$minutes" -print0)
  # Leftovers of dumps interrupted by a crash.
  find "$BACKUP_DIR" -maxdepth 1 -type f -name ".$BACKUP_PREFIX-*.partial" -mmin +1440 -delete
}

seconds_until_next_dump() {
  local interval=$((BACKUP_INTERVAL_HOURS * 3600)) age
  if [[ ! -f $LAST_SUCCESS ]]; then
    echo 0
    return
  fi
  age=$(($(date +%s) - $(stat -c %Y "$LAST_SUCCESS")))
  echo $((age >= interval ? 0 : interval - age))
}

schedule() {
  check_settings
  # Sleep in the background so `docker stop` (SIGTERM) ends the loop at once.
  trap 'log "stopping"; exit 0' TERM INT
  log "every $BACKUP_INTERVAL_HOURS h into $BACKUP_DIR, keeping $BACKUP_RETENTION_DAYS days"
  local wait_seconds
  while true; do
    wait_seconds=$(seconds_until_next_dump)
    if [[ $wait_seconds -gt 0 ]]; then
      log "next dump in $wait_seconds s"
      sleep "$wait_seconds" &
      wait $!
    fi
    if ! dump; then
      sleep "$BACKUP_RETRY_SECONDS" &
      wait $!
    fi
  done
}

list_archives() {
  find "$BACKUP_DIR" -maxdepth 1 -type f -name "$ARCHIVE_GLOB" -printf '%TY-%Tm-%Td %TH:%TM  %10s  %f\n' | sort
}

restore() {
  local archive=${1:-} config status=0
  [[ -n $archive ]] || fail "usage: drift-backup restore ARCHIVE (see: drift-backup list)"
  [[ $archive == */* ]] || archive="$BACKUP_DIR/$archive"
  [[ -f $archive ]] || fail "no archive $archive (see: drift-backup list)"
  check_settings
  config=$(write_tool_config)
  local -a options
  mapfile -t options < <(connection_options)
  log "restoring $archive into $APP_DATABASE_NAME (its collections are replaced)"
  mongorestore "${options[@]}" --config="$config" --nsInclude="$APP_DATABASE_NAME.*" \
    --drop --stopOnError --archive="$archive" --gzip || status=$?
  rm -f "$config"
  [[ $status -eq 0 ]] || fail "mongorestore failed (exit $status)"
  log "restored $archive"
}

health() {
  # Unhealthy once two intervals (plus an hour of slack for a slow dump) passed without a good dump.
  local minutes=$((BACKUP_INTERVAL_HOURS * 120 + 60))
  [[ -f $LAST_SUCCESS ]] || fail "no successful dump yet"
  [[ -n $(find "$LAST_SUCCESS" -mmin "-$minutes") ]] || fail "the last successful dump is older than $minutes minutes"
}

case ${1:-schedule} in
  schedule) schedule ;;
  once) check_settings; dump ;;
  list) list_archives ;;
  restore) shift; restore "$@" ;;
  health) health ;;
  *) fail "unknown command '$1' (schedule, once, list, restore ARCHIVE, health)" ;;
esac
