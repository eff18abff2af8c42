#!/usr/bin/env bash
# Install or upgrade hallq on a Raspberry Pi (Raspberry Pi OS / Debian 12 "bookworm").
#
#   sudo scripts/install-pi.sh                  the controller (hallq.service)
#   sudo scripts/install-pi.sh --kiosk          ... and the touch kiosk on this Pi's screen
#   sudo scripts/install-pi.sh --screen hall    ... or (not both) a hall screen: /screen/hall
#   sudo scripts/install-pi.sh --central --no-controller      a central server
#   sudo scripts/install-pi.sh --screen hall --controller http://10.0.0.2:8080
#                                               a screen Pi beside the controller's Pi
#   scripts/install-pi.sh --dry-run [...]       check, and print every step; change nothing
#   scripts/install-pi.sh --root DIR [...]      files under DIR; system commands only printed
#
# Run it from a checkout of hallq. Running it again upgrades in place: a new venv is built
# beside the old one and switched to only once it works and the configuration passes
# `hallq check-config`; units and udev rules are replaced; /etc/hallq and /var/lib/hallq
# are kept as they are. See docs/DEPLOY.md.
#
# For the tests only: HALLQ_INSTALL_VENV_FROM=PATH uses the venv at PATH instead of building
# one; HALLQ_INSTALL_PIP_ARGS adds arguments to `pip install`; HALLQ_INSTALL_PYTHON names
# the interpreter the venv is made with (default: python3).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: install-pi.sh [--kiosk] [--screen ID]... [--central] [--controller URL]
                     [--no-controller] [--dry-run] [--root DIR]

  --kiosk            run the touch kiosk (hallq-kiosk.service) on this Pi's display
  --screen ID        run the hall screen ID (hallq-screen@ID.service) on this Pi's display
                     (a Pi shows one screen or the kiosk: both take the console)
  --central          run the central server (hallq-central.service, port 8090)
  --controller URL   the kiosk and screens of this Pi use the controller at URL (written to
                     /etc/hallq/hallq.env); this Pi runs no controller of its own
  --no-controller    do not enable or start the controller (hallq.service) here
  --dry-run          check the preconditions and print every step; change nothing
  --root DIR         put every file under DIR and only print the commands that would
                     change the running system (apt-get, adduser, udevadm, systemctl)
  -h, --help         this help
EOF
}

say()  { printf 'install-pi: %s\n' "$*"; }
warn() { printf 'install-pi: WARNING: %s\n' "$*" >&2; }
die()  { printf 'install-pi: ERROR: %s\n' "$*" >&2; exit 1; }
bad_usage() { printf 'install-pi: %s\n' "$*" >&2; usage >&2; exit 2; }
step() { printf '\n== %s\n' "$*"; }

# --------------------------------------------------------------------- options
KIOSK=0
CENTRAL=0
CONTROLLER=1
CONTROLLER_URL=""
DRY=0
ROOT=""
SCREENS=()
SCREEN_ID_RE='^[a-z0-9][a-z0-9-]{0,31}$'  # as [[screens]] ids (hallq/hall/config.py)

while [ $# -gt 0 ]; do
    case $1 in
        --kiosk) KIOSK=1 ;;
        --central) CENTRAL=1 ;;
        --no-controller) CONTROLLER=0 ;;
        --dry-run) DRY=1 ;;
        --screen|--controller|--root)
            if [ $# -lt 2 ] || [ -z "$2" ]; then bad_usage "$1 needs a value"; fi
            case $1 in
                --screen)
                    [[ $2 =~ $SCREEN_ID_RE ]] \
                        || bad_usage "--screen $2: a screen id is a-z, 0-9 and -, as in [[screens]] (e.g. hall)"
                    SCREENS+=("$2") ;;
                --controller)
                    [[ $2 =~ ^https?://[^[:space:]]+$ ]] \
                        || bad_usage "--controller $2: give the controller's URL, e.g. http://10.0.0.2:8080"
                    CONTROLLER_URL=${2%/}; CONTROLLER=0 ;;
                --root) ROOT=$2 ;;
            esac
            shift ;;
        --screen=*|--controller=*|--root=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
        -h|--help) usage; exit 0 ;;
        *) bad_usage "unknown option: $1" ;;
    esac
    shift
done

# The kiosk and a hall screen both take the first console (tty1): one of them per Pi.
if [ "${#SCREENS[@]}" -gt 1 ] || { [ "$KIOSK" = 1 ] && [ "${#SCREENS[@]}" -gt 0 ]; }; then
    bad_usage "a Pi shows the kiosk or one hall screen (each takes the console, tty1): one Pi per screen"
fi
if [ -n "$ROOT" ]; then
    ROOT=$(realpath -m -- "$ROOT")
    [ "$ROOT" != / ] || bad_usage "--root /: run without --root to install on this system"
fi
if [ "$DRY" = 1 ]; then MODE=dry; elif [ -n "$ROOT" ]; then MODE=root; else MODE=real; fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
R=$ROOT  # every installed path is "$R/..."
ETC=/etc/hallq
DATA=/var/lib/hallq
OPT=/opt/hallq
VENV=$OPT/venv
UNIT_DIR=/etc/systemd/system
RULES=/etc/udev/rules.d/60-hallq.rules
USER_NAME=hallq
GROUPS_NEEDED=(gpio dialout lp audio video render input)  # what the units' SupplementaryGroups name
UNITS=(hallq.service hallq-kiosk.service hallq-screen@.service hallq-central.service)
PYTHON=${HALLQ_INSTALL_PYTHON:-python3}
VENV_FROM=${HALLQ_INSTALL_VENV_FROM:-}
read -r -a PIP_EXTRA <<<"${HALLQ_INSTALL_PIP_ARGS:-}"

# --------------------------------------------------------------------- how steps act
# The command as a person would type it (plain words bare, the rest shell-quoted).
quoted() {
    local arg out=""
    for arg in "$@"; do
        if [[ $arg =~ ^[[:alnum:]_./:=@,+%-]+$ ]]; then out+="$arg "; else out+="$(printf '%q' "$arg") "; fi
    done
    printf '%s' "${out% }"
}

# A command that changes the running system: run only by a real install.
run_system() {
    if [ "$MODE" = real ]; then
        printf '+ %s\n' "$(quoted "$@")"
        "$@"
    else
        printf 'would run: %s\n' "$(quoted "$@")"
    fi
}

# A change to files under $R: made unless this is a dry run.
act() {
    if [ "$MODE" = dry ]; then
        printf 'would %s\n' "$1"
        return 1
    fi
    printf '%s\n' "$1"
}

# Copy SRC to DEST with MODE, atomically: a reader (or a power cut) sees the old file or the
# new one, never half of one.
put_file() {
    local src=$1 dest=$2 mode=$3 tmp
    tmp="$(dirname "$dest")/.$(basename "$dest").new"
    install -m "$mode" "$src" "$tmp"
    sync -- "$tmp" 2>/dev/null || true
    mv -f -- "$tmp" "$dest"
}

# Point symlink LINK at TARGET atomically (rename over the old link).
put_link() {
    local target=$1 link=$2
    ln -sfn -- "$target" "$link.new"
    mv -fT -- "$link.new" "$link"
}

own() {  # owner:group mode path: ownership only in a real install (the user exists there)
    chmod "$2" "$R$3"
    if [ "$MODE" = real ]; then chown "$1" "$3"; else run_system chown "$1" "$3"; fi
}

# --------------------------------------------------------------------- preconditions
problems=0
problem() { printf 'install-pi: PROBLEM: %s\n' "$*" >&2; problems=$((problems + 1)); }

step "checking"
say "checkout  $REPO"
say "mode      $MODE${ROOT:+ (root $ROOT)}"
for f in pyproject.toml constraints.txt config/demo-hall.toml scripts/debian-packages.txt \
         scripts/debian-packages-pi.txt deploy/udev/60-hallq.rules "${UNITS[@]/#/systemd/}"; do
    [ -f "$REPO/$f" ] || problem "$REPO/$f is missing: run the script from a whole checkout of hallq"
done

os_name="unknown"
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    os_name=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-unknown}")
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    [ "$codename" = bookworm ] \
        || warn "this is $os_name; hallq is made for Raspberry Pi OS / Debian 12 (bookworm); going on"
fi
say "system    $os_name"
if command -v dpkg >/dev/null 2>&1; then
    arch=$(dpkg --print-architecture)
    say "arch      $arch"
    [ "$arch" != armhf ] \
        || warn "32-bit Raspberry Pi OS: pip builds numpy, matplotlib and pygame from source (hours); use the 64-bit image"
fi
if [ -r /proc/device-tree/model ]; then
    say "board     $(tr -d '\0' </proc/device-tree/model)"
else
    say "board     not a Raspberry Pi (GPIO, undervoltage and temperature checks stay off)"
fi

if [ "$MODE" = real ] || { [ "$MODE" = dry ] && [ -z "$ROOT" ]; }; then
    [ "$(id -u)" -eq 0 ] || problem "the install needs root: run it with sudo"
    for tool in apt-get dpkg-query systemctl udevadm adduser usermod groupadd getent; do
        command -v "$tool" >/dev/null 2>&1 || problem "$tool is missing (is this Debian / Raspberry Pi OS?)"
    done
    [ -d /run/systemd/system ] || problem "systemd is not running here (a container?): the services could not be started"
fi

if [ -n "$VENV_FROM" ]; then
    [ -x "$VENV_FROM/bin/hallq" ] || problem "HALLQ_INSTALL_VENV_FROM=$VENV_FROM has no bin/hallq"
elif "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "python    $("$PYTHON" --version 2>&1)"
elif [ -z "$ROOT" ]; then
    # On this system the packages step brings python3 and python3-venv first.
    say "python    no $PYTHON >= 3.11 with venv yet: python3 and python3-venv come with the packages"
else
    problem "$PYTHON >= 3.11 with its venv module (python3-venv) is needed to make the venv"
fi

# The new venv needs room beside the old one (numpy, matplotlib, pygame: about 400 MB).
space_dir=$R$OPT
while [ ! -d "$space_dir" ]; do space_dir=$(dirname "$space_dir"); done
free_kb=$(df -Pk -- "$space_dir" | awk 'NR == 2 { print $4 }')
say "free      $((free_kb / 1024)) MiB in $space_dir"
if [ -z "$VENV_FROM" ] && [ "$free_kb" -lt $((600 * 1024)) ]; then
    problem "less than 600 MiB free in $space_dir for the new venv: free some space first"
fi

if [ -f "$R$ETC/hall.toml" ]; then
    say "config    $ETC/hall.toml exists and is kept"
else
    say "config    $ETC/hall.toml is new: the demo hall's, to edit"
fi

if [ "$problems" -gt 0 ]; then
    [ "$MODE" = dry ] && { say "dry run: $problems problem(s) above; the install would stop"; exit 1; }
    die "$problems problem(s) above; nothing was changed"
fi

if [ "$MODE" = real ]; then
    # One install at a time.
    exec 9>/run/lock/hallq-install.lock
    flock -n 9 || die "another install-pi.sh is running"
fi

# --------------------------------------------------------------------- Debian packages
# The lists' entries: "name", "a|b" (the first the archive has), "name?" (if it has it).
read_list() { awk '{ sub(/#.*/, ""); for (i = 1; i <= NF; i++) print $i }' "$@"; }
in_archive() {
    local candidate
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

step "Debian packages"
if [ "$MODE" = real ]; then
    run_system env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi
PACKAGES=()
while read -r entry; do
    optional=0
    case $entry in *\?) optional=1; entry=${entry%\?} ;; esac
    IFS='|' read -r -a choices <<<"$entry"
    chosen=""
    if [ "$MODE" = real ]; then
        for c in "${choices[@]}"; do
            if in_archive "$c"; then chosen=$c; break; fi
        done
        if [ -z "$chosen" ]; then
            [ "$optional" = 1 ] && { say "not in this system's archive, skipped: $entry"; continue; }
            die "none of $entry is in the package archive (apt-get update failed? not Debian 12?)"
        fi
    else
        chosen=${choices[0]}
        [ "${#choices[@]}" -eq 1 ] || say "of $entry: the first the archive has (here: $chosen)"
        [ "$optional" = 0 ] || say "$chosen: only if the archive has it (Raspberry Pi OS does)"
    fi
    PACKAGES+=("$chosen")
done < <(read_list "$REPO/scripts/debian-packages.txt" "$REPO/scripts/debian-packages-pi.txt")
run_system env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# --------------------------------------------------------------------- user and groups
step "user $USER_NAME and its device groups"
for g in "${GROUPS_NEEDED[@]}"; do
    if [ "$MODE" = real ]; then
        getent group "$g" >/dev/null || run_system groupadd --system "$g"
    else
        printf 'would run: %s  # unless the group exists\n' "$(quoted groupadd --system "$g")"
    fi
done
if [ "$MODE" = real ] && id -u "$USER_NAME" >/dev/null 2>&1; then
    say "user $USER_NAME exists"
elif [ "$MODE" = real ]; then
    run_system adduser --system --group --home "$DATA" --no-create-home "$USER_NAME"
else
    printf 'would run: %s  # unless the user exists\n' \
        "$(quoted adduser --system --group --home "$DATA" --no-create-home "$USER_NAME")"
fi
member_of=$(IFS=,; printf '%s' "${GROUPS_NEEDED[*]}")
run_system usermod -a -G "$member_of" "$USER_NAME"

# --------------------------------------------------------------------- folders and configuration
step "configuration in $ETC, data in $DATA"
if act "create $ETC (hallq's: the admin page saves hall.toml there, atomically)"; then
    mkdir -p "$R$ETC"
    own "$USER_NAME:$USER_NAME" 0750 "$ETC"
fi
if [ -f "$R$ETC/hall.toml" ]; then
    say "kept $ETC/hall.toml as it is (never overwritten; check it: hallq check-config)"
elif act "install $ETC/hall.toml from config/demo-hall.toml (the demo hall: edit it)"; then
    put_file "$REPO/config/demo-hall.toml" "$R$ETC/hall.toml" 0640
    own "$USER_NAME:$USER_NAME" 0640 "$ETC/hall.toml"
fi

# hallq.env: the kiosk's and screens' settings (HALLQ_CONTROLLER, HALLQ_KIOSK_ARGS).
env_file=$ETC/hallq.env
if [ ! -f "$R$env_file" ]; then
    if act "create $env_file (the controller the kiosk and screens use)"; then
        tmp_env=$(mktemp)
        {
            echo "# Settings of the kiosk and hall screen units (docs/DEPLOY.md)."
            echo "# The controller they show; on the controller's own Pi: http://127.0.0.1:8080"
            echo "HALLQ_CONTROLLER=${CONTROLLER_URL:-http://127.0.0.1:8080}"
            echo "# This kiosk's [[kiosks]] entry in hall.toml (default: the first):"
            echo "#HALLQ_KIOSK_ARGS=--kiosk kiosk-2"
            echo "# A hall screen's TV to standby and back over HDMI-CEC outside hours (cec-ctl),"
            echo "# and how its display is switched (auto, wlr-randr, vcgencmd, cec, none):"
            echo "#HALLQ_SCREEN_CEC=1"
            echo "#HALLQ_SCREEN_DISPLAY=auto"
        } >"$tmp_env"
        put_file "$tmp_env" "$R$env_file" 0640
        rm -f "$tmp_env"
        own "root:$USER_NAME" 0640 "$env_file"
    fi
elif [ -n "$CONTROLLER_URL" ]; then
    if act "set HALLQ_CONTROLLER=$CONTROLLER_URL in $env_file (the rest kept)"; then
        tmp_env=$(mktemp)
        grep -v '^HALLQ_CONTROLLER=' "$R$env_file" >"$tmp_env" || true
        echo "HALLQ_CONTROLLER=$CONTROLLER_URL" >>"$tmp_env"
        put_file "$tmp_env" "$R$env_file" 0640
        rm -f "$tmp_env"
        own "root:$USER_NAME" 0640 "$env_file"
    fi
else
    say "kept $env_file"
fi

if [ "$CENTRAL" = 1 ]; then
    if [ -f "$R$ETC/central.env" ]; then
        say "kept $ETC/central.env"
    elif act "create $ETC/central.env (the central server's database: SQLite until you set one)"; then
        tmp_env=$(mktemp)
        {
            echo "# The central server's database (docs/CENTRAL.md). Default: SQLite in"
            echo "# /var/lib/hallq/central. PostgreSQL for production, e.g.:"
            echo "#HALLQ_CENTRAL_DB=postgresql://hallq:SECRET@127.0.0.1/hallq"
        } >"$tmp_env"
        put_file "$tmp_env" "$R$ETC/central.env" 0640
        rm -f "$tmp_env"
        own "root:$USER_NAME" 0640 "$ETC/central.env"
    fi
fi

for d in "$DATA" "$DATA/hall"; do
    if act "create $d (owned by $USER_NAME, 0750)"; then
        mkdir -p "$R$d"
        own "$USER_NAME:$USER_NAME" 0750 "$d"
    fi
done

# --------------------------------------------------------------------- udev rules
step "udev rules (printers → lp, RS-485 adapters → dialout, /dev/hallq-*)"
if act "install $RULES"; then
    mkdir -p "$(dirname "$R$RULES")"
    put_file "$REPO/deploy/udev/60-hallq.rules" "$R$RULES" 0644
fi
if [ "$MODE" = real ]; then
    { run_system udevadm control --reload-rules \
        && run_system udevadm trigger --action=add --subsystem-match=usb \
            --subsystem-match=usbmisc --subsystem-match=tty --subsystem-match=usb-serial \
            --subsystem-match=gpio; } \
        || warn "udev did not take the rules now; they apply from the next boot or replug"
else
    run_system udevadm control --reload-rules
    run_system udevadm trigger --action=add --subsystem-match=usb --subsystem-match=usbmisc \
        --subsystem-match=tty --subsystem-match=usb-serial --subsystem-match=gpio
fi

# --------------------------------------------------------------------- the venv
step "hallq in $VENV"
NEW_RELEASE=""
NEW_HALLQ=""
# The central server may use PostgreSQL (asyncpg); a machine that runs it keeps central.env.
EXTRAS=pi
if [ "$CENTRAL" = 1 ] || [ -f "$R$ETC/central.env" ]; then EXTRAS=pi,postgres; fi
if [ -n "$VENV_FROM" ]; then
    if act "link $VENV to $VENV_FROM (HALLQ_INSTALL_VENV_FROM)"; then
        mkdir -p "$R$OPT"
        put_link "$VENV_FROM" "$R$VENV"
        NEW_HALLQ=$R$VENV/bin/hallq
    fi
elif act "build a new venv in $OPT/releases/ (pip install -c constraints.txt '.[$EXTRAS]'), switched to after the checks"; then
    mkdir -p "$R$OPT/releases"
    NEW_RELEASE=$(mktemp -d "$R$OPT/releases/$(date -u +%Y%m%d-%H%M%S)-XXXX")
    chmod 0755 "$NEW_RELEASE"
    drop_release() { rm -rf -- "$NEW_RELEASE"; }
    # --system-site-packages: gpiozero finds Raspberry Pi OS's python3-lgpio (no wheel on PyPI).
    "$PYTHON" -m venv --system-site-packages "$NEW_RELEASE" \
        || { drop_release; die "could not make a venv with $PYTHON (python3-venv missing?); the installed hallq is unchanged"; }
    "$NEW_RELEASE/bin/python" -m pip install --progress-bar off -c "$REPO/constraints.txt" \
        "${PIP_EXTRA[@]}" "${REPO}[$EXTRAS]" \
        || { drop_release; die "pip install failed (network? see above); the installed hallq is unchanged"; }
    NEW_HALLQ=$NEW_RELEASE/bin/hallq
fi
if [ -n "$NEW_HALLQ" ]; then
    version=$("$NEW_HALLQ" --version) \
        || { [ -z "$NEW_RELEASE" ] || rm -rf -- "$NEW_RELEASE"; die "the new hallq does not start (above); the installed hallq is unchanged"; }
    say "ready: $version"
fi

# --------------------------------------------------------------------- check the configuration
step "checking $ETC/hall.toml"
if [ -n "$NEW_HALLQ" ] && [ -f "$R$ETC/hall.toml" ]; then
    if ! "$NEW_HALLQ" check-config "$R$ETC/hall.toml"; then
        [ -z "$NEW_RELEASE" ] || rm -rf -- "$NEW_RELEASE"
        die "$ETC/hall.toml has errors (above): fix them and run this again; nothing was restarted and the installed hallq is unchanged"
    fi
elif [ "$MODE" = dry ] && [ -x "$R$VENV/bin/hallq" ] && [ -f "$R$ETC/hall.toml" ]; then
    "$R$VENV/bin/hallq" check-config "$R$ETC/hall.toml" \
        || say "dry run: $ETC/hall.toml has errors (above); the install would stop here"
else
    say "would check it with the new hallq before restarting anything"
fi

# --------------------------------------------------------------------- switch to the new venv
if [ -n "$NEW_RELEASE" ]; then
    step "switching $VENV to $(basename "$NEW_RELEASE")"
    previous=""
    if [ -L "$R$VENV" ]; then
        previous=$(basename "$(readlink "$R$VENV")")
    elif [ -e "$R$VENV" ]; then  # a venv made by hand: keep it as a release
        previous="before-$(date -u +%Y%m%d-%H%M%S)"
        mv -- "$R$VENV" "$R$OPT/releases/$previous"
    fi
    put_link "releases/$(basename "$NEW_RELEASE")" "$R$VENV"
    # Keep the new release and the one before it (to go back by hand); drop older ones.
    for old in "$R$OPT"/releases/*; do
        name=$(basename "$old")
        if [ "$name" != "$(basename "$NEW_RELEASE")" ] && [ "$name" != "$previous" ]; then
            say "removing the old release $name"
            rm -rf -- "$old"
        fi
    done
    [ -z "$previous" ] || say "the previous release $previous is kept in $OPT/releases"
fi

# --------------------------------------------------------------------- units
step "systemd units"
if act "install ${UNITS[*]} into $UNIT_DIR"; then
    mkdir -p "$R$UNIT_DIR"
    for u in "${UNITS[@]}"; do
        put_file "$REPO/systemd/$u" "$R$UNIT_DIR/$u" 0644
    done
fi
run_system systemctl daemon-reload

started=()
start_unit() {
    run_system systemctl enable "$1"
    if ! run_system systemctl restart "$1"; then
        [ "$MODE" != real ] || journalctl -u "$1" -n 40 --no-pager || true
        die "$1 did not start (its log is above: journalctl -u $1)"
    fi
    started+=("$1")
}
if [ "$CONTROLLER" = 1 ]; then
    start_unit hallq.service
else
    say "not enabling hallq.service: this Pi runs no controller${CONTROLLER_URL:+ (the controller: $CONTROLLER_URL)}"
    if [ "$MODE" = real ] && systemctl is-enabled --quiet hallq.service 2>/dev/null; then
        warn "hallq.service is still enabled from before: 'systemctl disable --now hallq' if this Pi should run none"
    fi
fi
if [ "$MODE" = real ] && { [ "$KIOSK" = 1 ] || [ "${#SCREENS[@]}" -gt 0 ]; } \
    && systemctl is-enabled --quiet display-manager.service 2>/dev/null; then
    warn "a desktop starts on this Pi: the kiosk and hall screens need the console" \
        "(raspi-config: System Options > Boot / Auto Login > Console, then reboot)"
fi
# What this run puts on the display replaces what an earlier run enabled there.
if [ "$KIOSK" = 1 ] || [ "${#SCREENS[@]}" -gt 0 ]; then
    wanted=$([ "$KIOSK" = 1 ] && echo hallq-kiosk.service || echo "hallq-screen@${SCREENS[0]}.service")
    for link in "$R$UNIT_DIR"/multi-user.target.wants/hallq-kiosk.service \
                "$R$UNIT_DIR"/multi-user.target.wants/hallq-screen@*.service; do
        [ -L "$link" ] || continue
        [ "$(basename "$link")" = "$wanted" ] || run_system systemctl disable --now "$(basename "$link")"
    done
fi
[ "$KIOSK" = 0 ] || start_unit hallq-kiosk.service
for id in ${SCREENS[@]+"${SCREENS[@]}"}; do start_unit "hallq-screen@$id.service"; done
[ "$CENTRAL" = 0 ] || start_unit hallq-central.service

# What earlier runs enabled and this one did not name runs the new version too.
others=()
[ "$KIOSK" = 1 ] || others+=(hallq-kiosk.service)
[ "${#SCREENS[@]}" -gt 0 ] || others+=('hallq-screen@*.service')
[ "$CENTRAL" = 1 ] || others+=(hallq-central.service)
if [ "$CONTROLLER" = 0 ]; then others+=(hallq.service); fi
[ "${#others[@]}" -eq 0 ] || run_system systemctl try-restart "${others[@]}"

# --------------------------------------------------------------------- what now
step "done"
if [ "$MODE" = dry ]; then
    say "dry run: nothing was changed"
    exit 0
fi
say "installed ${version:-hallq}${ROOT:+ under $ROOT}; started: ${started[*]:-nothing}"
address=127.0.0.1
if [ "$MODE" = real ]; then
    address=$(hostname -I 2>/dev/null | awk '{ print $1 }')
    address=${address:-127.0.0.1}
fi
cat <<EOF

Next:
  1. Edit $ETC/hall.toml: a new one is the demo hall with every device simulated. Set the
     hall, services, windows and devices (docs/CONFIGURATION.md; the wiring: docs/DEPLOY.md),
     then check and apply it:
         sudo $VENV/bin/hallq check-config $ETC/hall.toml
         sudo systemctl restart hallq
  2. Open http://$address:8080/admin to create the first admin login.
  3. Logs: journalctl -u hallq -f     State: systemctl status 'hallq*'
  To upgrade: git pull and run this script again (configuration and data are kept).
EOF
