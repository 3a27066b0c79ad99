#!/usr/bin/env bash
# What tests/test_deploy.py needs, built once and cached under /var/cache/storytrail-ci (STORYTRAIL_CI_CACHE),
# because it takes minutes, not seconds (.ci/run calls this; the test skips, saying so, when it is absent):
#   bookworm-minbase/  a clean Debian 12 root (debootstrap --variant=minbase, plus python3, python3-venv and
#                      logrotate, which install.sh would otherwise fetch with apt): about 280 MB, 2-4 minutes
#   wheels/            wheels of storytrail's pinned dependencies, so install.sh runs offline in that root
set -euo pipefail
CACHE=${STORYTRAIL_CI_CACHE:-/var/cache/storytrail-ci}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PIP=${PIP:-$REPO/.venv/bin/pip}
if [ "$(id -u)" != 0 ]; then echo "prepare-test-root.sh: needs root (debootstrap); the install test will be skipped"; exit 0; fi
mkdir -p "$CACHE"

if [ ! -d "$CACHE/bookworm-minbase" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
    rm -rf "$CACHE/bookworm-minbase.partial"
    started=$(date +%s)
    debootstrap --variant=minbase --include=python3,python3-venv,logrotate,ca-certificates \
        bookworm "$CACHE/bookworm-minbase.partial" >"$CACHE/debootstrap.log" 2>&1
    mv "$CACHE/bookworm-minbase.partial" "$CACHE/bookworm-minbase"
    echo "prepare-test-root.sh: clean Debian root built in $(( $(date +%s) - started )) s"
fi

stamp="$CACHE/wheels/.pyproject-$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$CACHE/wheels.partial" && mkdir -p "$CACHE/wheels.partial"
    "$REPO/.venv/bin/python" -c 'import tomllib, sys; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
        "$REPO/pyproject.toml" > "$CACHE/wheels.partial/requirements.txt"
    echo "setuptools>=68" >> "$CACHE/wheels.partial/requirements.txt"   # to build storytrail itself, offline
    "$PIP" wheel --quiet --wheel-dir "$CACHE/wheels.partial" -r "$CACHE/wheels.partial/requirements.txt"
    rm -rf "$CACHE/wheels" && mv "$CACHE/wheels.partial" "$CACHE/wheels" && touch "$stamp"
fi
