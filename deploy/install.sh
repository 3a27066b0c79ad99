#!/usr/bin/env bash
# Install storytrail on a fresh Debian 12 or Ubuntu 24.04 machine. Run as root from a clone of the repository:
#
#   sudo deploy/install.sh [--mode timer|daemon|cron|none] [--wheelhouse DIR]
#
# It installs what is missing (python3 3.11+, python3-venv, logrotate, cron for --mode cron), creates the
# `storytrail` system user, a venv in /opt/storytrail/venv, the settings in /etc/storytrail (kept when they
# exist: re-running the script upgrades storytrail and nothing else), the data dir /var/lib/storytrail, the log
# /var/log/storytrail/storytrail.log rotated weekly by logrotate, the `storytrail` command in /usr/local/bin
# (it runs as the storytrail user), and the systemd units or the cron entry of the chosen --mode:
#   timer   storytrail.timer starts `storytrail run` every 15 minutes (the default; see deploy/README.md)
#   daemon  storytrail-schedule.service runs `storytrail schedule`
#   cron    /etc/cron.d/storytrail runs `storytrail run` every 15 minutes
#   none    install only; start nothing
# --wheelhouse DIR installs from wheels in DIR without an index (an offline machine, the CI's test).
set -euo pipefail

MODE=timer
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
WHEELHOUSE=
PREFIX=/opt/storytrail
ETC=/etc/storytrail
DATA=/var/lib/storytrail
LOGS=/var/log/storytrail
USER_NAME=storytrail

while [ $# -gt 0 ]; do
    case $1 in
        --mode) MODE=$2; shift 2 ;;
        --source) SOURCE=$(cd "$2" && pwd); shift 2 ;;
        --wheelhouse) WHEELHOUSE=$(cd "$2" && pwd); shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case $MODE in timer|daemon|cron|none) ;; *) echo "install.sh: --mode is timer, daemon, cron or none, not $MODE" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo $0 ...)" >&2; exit 2; }
[ -f "$SOURCE/pyproject.toml" ] || { echo "install.sh: $SOURCE is not a storytrail checkout (no pyproject.toml)" >&2; exit 2; }
say() { printf '==> %s\n' "$*"; }

# -- packages ----------------------------------------------------------------------------------
missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v logrotate >/dev/null || missing+=(logrotate)
if [ "$MODE" = cron ] && ! command -v cron >/dev/null; then missing+=(cron); fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "install.sh: storytrail needs Python 3.11 or newer; this system has $(python3 -V) (Debian 12 and Ubuntu 24.04 have it)" >&2
    exit 2
}

# -- user and directories ----------------------------------------------------------------------
if ! getent passwd "$USER_NAME" >/dev/null; then
    say "creating the system user $USER_NAME"
    useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin \
        --comment "storytrail crawler" "$USER_NAME"
fi
install -d -m 0755 -o root -g root "$PREFIX"
install -d -m 0750 -o root -g "$USER_NAME" "$ETC"
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$DATA" "$LOGS"

# -- the code: a venv owned by root, so the service cannot change what it runs ---------------------
say "installing storytrail into $PREFIX/venv"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
pip_args=(--quiet --disable-pip-version-check)
[ -n "$WHEELHOUSE" ] && pip_args+=(--no-index --find-links "$WHEELHOUSE")
"$PREFIX/venv/bin/pip" install "${pip_args[@]}" --upgrade "$SOURCE"
rm -rf "$PREFIX/deploy" && cp -r "$SOURCE/deploy" "$PREFIX/deploy"

# -- settings: the operator's, never overwritten ----------------------------------------------------
for file in sources.yaml alerts.yaml; do
    if [ -f "$SOURCE/config/$file" ] && [ ! -e "$ETC/$file" ]; then
        install -m 0640 -o root -g "$USER_NAME" "$SOURCE/config/$file" "$ETC/$file"
    fi
done
if [ ! -e "$ETC/storytrail.toml" ]; then
    cat > "$ETC/storytrail.toml" <<EOF_TOML
# storytrail's settings: \`storytrail config --help-settings\` lists them all with their defaults.
# Passwords go in $ETC/env (STORYTRAIL_MAIL__PASSWORD=..., STORYTRAIL_ES_PASSWORD=...), not here.
data_dir = "$DATA"
sources_file = "$ETC/sources.yaml"

[alerts]
searches_file = "$ETC/alerts.yaml"

[mail]
# The SMTP server alerts are sent through: a relay on this machine (port 25, tls = "none"), or your
# provider's submission server (port 587, tls = "starttls", username; the password in $ETC/env).
host = "localhost"
port = 25
tls = "none"
sender = "storytrail@$(hostname -f 2>/dev/null || hostname)"
EOF_TOML
    chown root:"$USER_NAME" "$ETC/storytrail.toml" && chmod 0640 "$ETC/storytrail.toml"
fi
if [ ! -e "$ETC/env" ]; then
    printf '# Secrets for storytrail, one VAR=value a line (read by the systemd units and /usr/local/bin/storytrail).\n' > "$ETC/env"
    chown root:"$USER_NAME" "$ETC/env" && chmod 0640 "$ETC/env"
fi
ln -sfn "$ETC/storytrail.toml" "$DATA/storytrail.toml"   # every command on the data dir finds the settings

# -- the command, as the service user -----------------------------------------------------------------
cat > /usr/local/bin/storytrail <<EOF_BIN
#!/bin/sh
# storytrail on this machine's data dir ($DATA), always as the $USER_NAME user (installed by deploy/install.sh).
if [ "\$(id -un)" != $USER_NAME ]; then
    if [ "\$(id -u)" = 0 ]; then exec runuser -u $USER_NAME -- "\$0" "\$@"; fi
    exec sudo -u $USER_NAME -- "\$0" "\$@"
fi
set -a; [ -r $ETC/env ] && . $ETC/env; set +a
export STORYTRAIL_DATA_DIR="\${STORYTRAIL_DATA_DIR:-$DATA}"
exec $PREFIX/venv/bin/storytrail "\$@"
EOF_BIN
chmod 0755 /usr/local/bin/storytrail

# -- logs, units, cron ----------------------------------------------------------------------------
install -m 0644 "$SOURCE/deploy/storytrail.logrotate" /etc/logrotate.d/storytrail
install -d /etc/systemd/system
for unit in storytrail.service storytrail.timer storytrail-schedule.service; do
    install -m 0644 "$SOURCE/deploy/$unit" "/etc/systemd/system/$unit"
done
if [ "$MODE" = cron ]; then
    install -m 0644 "$SOURCE/deploy/storytrail.cron" /etc/cron.d/storytrail
else
    rm -f /etc/cron.d/storytrail
fi

say "checking the installation"
runuser -u "$USER_NAME" -- /usr/local/bin/storytrail config >/dev/null

case $MODE in
    timer) units=(storytrail.timer); other=storytrail-schedule.service ;;
    daemon) units=(storytrail-schedule.service); other=storytrail.timer ;;
    *) units=(); other= ;;
esac
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    [ -n "$other" ] && systemctl disable --now "$other" 2>/dev/null || true
    [ ${#units[@]} -gt 0 ] && systemctl enable --now "${units[@]}"
    say "done: ${units[*]:-nothing} enabled; logs in $LOGS/storytrail.log; try: storytrail status"
else
    say "done (systemd is not running here: start it later with: systemctl enable --now ${units[*]:-<unit>})"
fi
