#!/bin/bash
# Remove dexpulse from this Mac. The package installs this script as
# "/Library/Application Support/dexpulse/bin/uninstall.sh"; run it as root:
#
#     sudo "/Library/Application Support/dexpulse/bin/uninstall.sh" [--purge]
#
# It stops the agent (LaunchDaemon com.dexpulse.agent) and the tray of every signed-in user
# (LaunchAgent com.dexpulse.tray), removes the two plists, each user's own tray LaunchAgent
# (written by `dexpulse tray --autostart on`), the program folder bin/ (this script included)
# and the logs, and makes macOS forget the package receipt (pkgutil --forget). The config
# (agent.toml: collector, enrollment secret, tags) and the state (device credentials, unsent
# samples) stay in /Library/Application Support/dexpulse, so a reinstall carries on as the same
# device; --purge removes that folder too.
#
# DEXPULSE_ROOT (default empty) prefixes every path, to work on a scratch copy of the layout;
# with it set, launchctl and pkgutil (which act on the running system) are skipped with a
# message. Without it they are required: elsewhere than on a Mac the script stops.
set -euo pipefail

LABEL=com.dexpulse.agent
TRAY_LABEL=com.dexpulse.tray
ROOT="${DEXPULSE_ROOT:-}"

say() { printf 'dexpulse uninstall: %s\n' "$*"; }
die() { # die STATUS MESSAGE...
    local status="$1"
    shift
    printf 'dexpulse uninstall: error: %s\n' "$*" >&2
    exit "$status"
}

purge=false
for arg in "$@"; do
    case "$arg" in
        --purge) purge=true ;;
        -h | --help)
            printf 'usage: sudo %s [--purge]\n' "$0"
            printf '  --purge  also remove the config and state (/Library/Application Support/dexpulse)\n'
            exit 0
            ;;
        *) die 2 "unknown option $arg (usage: $0 [--purge])" ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    again="sudo $0"
    [ "$purge" = false ] || again="$again --purge"
    die 1 "must run as root: $again"
fi
if [ -n "$ROOT" ]; then
    case "$ROOT" in /*) ;; *) die 2 "DEXPULSE_ROOT must be an absolute path: $ROOT" ;; esac
    [ -d "$ROOT" ] || die 2 "DEXPULSE_ROOT is not a directory: $ROOT"
    ROOT="${ROOT%/}"
fi

home="$ROOT/Library/Application Support/dexpulse"

# launchctl and pkgutil act on the running system: required without DEXPULSE_ROOT, never run
# with it (a scratch root has no launchd jobs or receipts of its own).
system_tool() {
    if [ -n "$ROOT" ]; then
        if command -v "$1" >/dev/null 2>&1; then
            say "skipped $2: DEXPULSE_ROOT is set, so the running system is left alone"
        else
            say "skipped $2: $1 not found (DEXPULSE_ROOT is set)"
        fi
        return 1
    fi
    command -v "$1" >/dev/null 2>&1 || die 1 "$1 not found: this uninstalls dexpulse from a Mac"
}

# The uids with a GUI session: the console's owner and every user's loginwindow (fast user
# switching keeps several), never root or the Setup Assistant's _mbsetupuser.
gui_uids() {
    {
        stat -f %u /dev/console 2>/dev/null || true
        ps -axo uid=,comm= 2>/dev/null | awk '$2 ~ /(^|\/)loginwindow$/ { print $1 }' || true
    } | sort -un | while read -r uid; do
        [ -n "$uid" ] && [ "$uid" -ne 0 ] || continue
        name=$(id -nu "$uid" 2>/dev/null) || continue
        case "$name" in root | loginwindow | _mbsetupuser) continue ;; esac
        printf '%s\n' "$uid"
    done
}

if system_tool launchctl "stopping the agent and the trays"; then
    if launchctl print "system/$LABEL" >/dev/null 2>&1; then
        launchctl bootout "system/$LABEL" || die 1 "could not stop the agent (launchctl bootout)"
        say "stopped the agent"
    fi
    for uid in $(gui_uids); do
        if launchctl print "gui/$uid/$TRAY_LABEL" >/dev/null 2>&1; then
            launchctl bootout "gui/$uid/$TRAY_LABEL" ||
                say "the tray of uid $uid stops when that user logs out"
        fi
    done
fi

remove() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        rm -rf -- "$1"
        say "removed $1"
    fi
}

remove "$ROOT/Library/LaunchDaemons/$LABEL.plist"
remove "$ROOT/Library/LaunchAgents/$TRAY_LABEL.plist"
for user_agent in "$ROOT"/Users/*/Library/LaunchAgents/"$TRAY_LABEL.plist"; do
    remove "$user_agent"
done
remove "$ROOT/Library/Logs/dexpulse"
remove "$home/bin"

if system_tool pkgutil "forgetting the package receipt"; then
    if pkgutil --pkg-info "$LABEL" >/dev/null 2>&1; then
        pkgutil --forget "$LABEL" >/dev/null
        say "forgot the package receipt $LABEL"
    fi
fi

if [ "$purge" = true ]; then
    remove "$home"
elif [ -d "$home" ]; then
    say "kept the config and state in $home (--purge removes them)"
fi
say "done"
