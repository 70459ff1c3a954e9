#!/bin/sh
# Installs Debian's chromium and chromium-driver for the dashboard's browser test (tests/e2e)
# when they are missing and this machine allows it: apt-get, and root or passwordless sudo.
# Never fails: without a browser the test is skipped and names what is missing, so
# `make test` still runs everything else on machines where nothing can be installed.
set -u

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
say() { echo "make browser: $*; the dashboard browser test will be skipped" >&2; }

if ! command -v apt-get >/dev/null 2>&1; then
    say "chromium or chromedriver is missing and there is no apt-get to install them"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    say "chromium or chromedriver is missing; installing needs root or passwordless sudo (apt-get install -y chromium chromium-driver)"
    exit 0
fi

echo "make browser: installing chromium and chromium-driver with apt-get ..."
# The package lists of a fresh machine or container are usually empty or stale: update once.
if ! $as_root apt-get update -qq; then
    say "apt-get update failed"
    exit 0
fi
# env inside sudo: sudo drops the caller's environment, and a prompt would hang a CI run.
if ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; then
    say "apt-get install chromium chromium-driver failed"
    exit 0
fi
