#!/usr/bin/env bash
# Usage: scripts/bootstrap.sh [runtime|dev]
#
# Takes a fresh Debian 12 / Raspberry Pi OS checkout to a working .venv:
# Debian packages, then the venv, then hallq (editable) pinned by constraints.txt.
# Safe to re-run; the Makefile guards it with stamp files so it rarely has to.
set -euo pipefail

mode=${1:-runtime}
case $mode in
    runtime) lists="scripts/debian-packages.txt"; extra="" ;;
    dev)     lists="scripts/debian-packages.txt scripts/debian-packages-dev.txt"; extra="[dev]" ;;
    *)       echo "usage: $0 [runtime|dev]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
VENV=.venv

say()  { printf 'bootstrap: %s\n' "$*"; }
die()  { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
# Ask dpkg first so an already set-up machine never needs apt, root or network.
wanted=$(awk '{ sub(/#.*/, ""); for (i = 1; i <= NF; i++) print $i }' $lists)
if ! command -v dpkg-query >/dev/null 2>&1; then
    say "WARNING: no dpkg here (not Debian?); make sure these are installed by hand:"
    say "  $(echo $wanted)"
else
    missing=""
    for pkg in $wanted; do
        # "deinstall ok config-files" etc. also count as missing.
        [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] \
            || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        say "installing Debian packages:$missing"
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null 2>&1 || die "need root or sudo to install:$missing"
            sudo=sudo
        fi
        # env inside sudo: sudo drops most of the caller's environment.
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
        # shellcheck disable=SC2086  # word splitting of $missing is intended
        $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends $missing
    fi
fi

# --- virtualenv --------------------------------------------------------------
version_ok='import sys; sys.exit(sys.version_info < (3, 11))'

find_python() {
    for py in python3.13 python3.12 python3.11 python3; do
        # Run it rather than trust `command -v`: pyenv puts shims on PATH
        # for versions that are installed but not active, and they just fail.
        if command -v "$py" >/dev/null 2>&1 && "$py" -c "$version_ok" 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    return 1
}

# A venv left half-made by a failed `python3 -m venv` (no python3-venv: no pip)
# or pointing at a removed interpreter is useless; rebuild it.
if [ -d "$VENV" ] && ! { "$VENV/bin/python" -c "$version_ok" && "$VENV/bin/python" -m pip --version; } >/dev/null 2>&1; then
    say "existing $VENV is broken or too old; recreating it"
    rm -rf "$VENV"
fi

if [ ! -d "$VENV" ]; then
    py=$(find_python) || die "hallq needs Python >= 3.11 and none was found \
(tried python3.13 python3.12 python3.11 python3). On Debian 12: apt-get install python3"
    say "creating $VENV with $py ($("$py" -c 'import platform; print(platform.python_version())'))"
    if ! "$py" -m venv "$VENV"; then
        rm -rf "$VENV"
        die "'$py -m venv' failed; on Debian this means python3-venv is missing (apt-get install python3-venv)"
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# --- hallq itself ------------------------------------------------------------
# Editable, so code edits need no reinstall; constraints.txt pins every version.
say "pip install -e '.$extra' (pinned by constraints.txt)"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".$extra"
say "done ($mode)"
