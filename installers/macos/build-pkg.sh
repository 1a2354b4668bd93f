#!/bin/bash
# Build the dexpulse macOS installer package (a signed product archive, .pkg).
#
#     installers/macos/build-pkg.sh [--output DIR] [--version V] [--frozen DIR] [--payload-only]
#
# On a Mac, from an environment where `pip install '.[agent,tray]' pyinstaller` was run:
#   1. builds the frozen program with installers/frozen/dexpulse.spec (PyInstaller onedir),
#      unless --frozen names one already built (a folder with dexpulse and _internal/);
#   2. lays out the payload root:
#        /Library/Application Support/dexpulse/bin/      the onedir's contents + uninstall.sh
#        /Library/LaunchDaemons/com.dexpulse.agent.plist  the agent (dexpulse agent run, root)
#        /Library/LaunchAgents/com.dexpulse.tray.plist    the tray, in every GUI login
#      and the installer scripts (scripts/preinstall, scripts/postinstall);
#   3. pkgbuild (component package com.dexpulse.agent, installed at /) and productbuild (the
#      product archive OUTPUT/dexpulse-VERSION.pkg, for this build's CPU architectures).
#
# Options (or environment):
#   --output DIR      (DEXPULSE_PKG_OUTPUT) where the results go; default build/macos-pkg in
#                     the repository. The work files go to DIR/work.
#   --version V       (DEXPULSE_VERSION) the package version; default: what the frozen
#                     `dexpulse --version` prints.
#   --frozen DIR      use this onedir instead of building one.
#   --payload-only    stop after step 2: DIR/root (or $DEXPULSE_ROOT when set) and DIR/scripts.
#                     Works on any OS given --frozen, so the layout can be checked off a Mac.
#   --sign IDENTITY   (DEXPULSE_SIGN_IDENTITY) a "Developer ID Installer: ..." identity in the
#                     keychain; pkgbuild and productbuild sign with it (with a timestamp).
# Also read from the environment:
#   DEXPULSE_CODESIGN_IDENTITY  a "Developer ID Application: ..." identity: the spec signs every
#                     binary of the frozen build with it (hardened runtime), as notarisation
#                     requires. Unset, PyInstaller signs ad hoc, which Gatekeeper does not trust
#                     for a downloaded package (MDM installs are not affected).
#   DEXPULSE_NOTARY_PROFILE  a keychain profile made with `xcrun notarytool store-credentials`;
#                     when set (with --sign), the package is submitted with
#                     `xcrun notarytool submit --wait` and the ticket stapled (`xcrun stapler`).
#   PYTHON            the Python that runs PyInstaller (default python3).
set -euo pipefail

LABEL=com.dexpulse.agent
TRAY_LABEL=com.dexpulse.tray
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

say() { printf 'build-pkg: %s\n' "$*"; }
die() { # die STATUS MESSAGE...
    local status="$1"
    shift
    printf 'build-pkg: error: %s\n' "$*" >&2
    exit "$status"
}
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

output="${DEXPULSE_PKG_OUTPUT:-$repo/build/macos-pkg}"
version="${DEXPULSE_VERSION:-}"
sign="${DEXPULSE_SIGN_IDENTITY:-}"
frozen=""
payload_only=false

while [ $# -gt 0 ]; do
    case "$1" in
        --output | --version | --frozen | --sign)
            [ $# -ge 2 ] || die 2 "$1 needs a value"
            case "$1" in
                --output) output="$2" ;;
                --version) version="$2" ;;
                --frozen) frozen="$2" ;;
                --sign) sign="$2" ;;
            esac
            shift 2
            ;;
        --payload-only)
            payload_only=true
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die 2 "unknown option $1 (--help lists them)" ;;
    esac
done

on_mac=false
[ "$(uname -s)" = Darwin ] && on_mac=true

if [ "$on_mac" = false ]; then
    if [ "$payload_only" = false ]; then
        die 2 "a macOS package can only be built on macOS (pkgbuild, productbuild); this is" \
            "$(uname -s). Only --payload-only --frozen DIR works here."
    fi
    [ -n "$frozen" ] || die 2 "--payload-only off macOS needs --frozen DIR (a macOS onedir)"
fi

mkdir -p "$output"
output="$(cd "$output" && pwd)"
work="$output/work"
scripts="$output/scripts"
if [ -n "${DEXPULSE_ROOT:-}" ]; then
    case "$DEXPULSE_ROOT" in /*) ;; *) die 2 "DEXPULSE_ROOT must be an absolute path" ;; esac
    payload="${DEXPULSE_ROOT%/}"
    mkdir -p "$payload"
else
    payload="$output/root"
    rm -rf "$payload"
fi

# -- 1. the frozen program ---------------------------------------------------------------------

if [ -z "$frozen" ]; then
    python="${PYTHON:-python3}"
    say "building the frozen program with $python -m PyInstaller (installers/frozen/dexpulse.spec)"
    rm -rf "$work/pyinstaller"
    mkdir -p "$work/pyinstaller"
    # not from the repository root: an editable install's dexpulse.egg-info there would be
    # read instead of the installed metadata
    (cd "$work/pyinstaller" && "$python" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$work/pyinstaller/dist" --workpath "$work/pyinstaller/build" \
        "$repo/installers/frozen/dexpulse.spec")
    frozen="$work/pyinstaller/dist/dexpulse"
fi
[ -d "$frozen" ] || die 2 "--frozen $frozen is not a folder"
frozen="$(cd "$frozen" && pwd)"
[ -f "$frozen/dexpulse" ] && [ -d "$frozen/_internal" ] ||
    die 2 "$frozen is not a PyInstaller onedir (dexpulse and _internal/ expected)"

# -- 2. the payload root and the scripts -------------------------------------------------------

home="$payload/Library/Application Support/dexpulse"
bin="$home/bin"
rm -rf "$bin"
install -d -m 755 "$payload/Library" "$payload/Library/Application Support" "$home" "$bin" \
    "$payload/Library/LaunchDaemons" "$payload/Library/LaunchAgents"
# -P: the onedir's symbolic links (Python.framework on macOS) stay links
cp -pPR "$frozen/." "$bin/"
# readable by all, writable by root only; the executables keep their x bits
chmod -R u+rwX,go+rX,go-w "$bin"
chmod 755 "$bin/dexpulse"
install -m 755 "$here/uninstall.sh" "$bin/uninstall.sh"
install -m 644 "$here/$LABEL.plist" "$payload/Library/LaunchDaemons/$LABEL.plist"
install -m 644 "$here/$TRAY_LABEL.plist" "$payload/Library/LaunchAgents/$TRAY_LABEL.plist"

rm -rf "$scripts"
install -d -m 755 "$scripts"
install -m 755 "$here/scripts/preinstall" "$here/scripts/postinstall" "$scripts/"
say "payload root: $payload"
say "scripts: $scripts"

if [ "$payload_only" = true ]; then
    exit 0
fi

# -- 3. pkgbuild and productbuild --------------------------------------------------------------

if [ -z "$version" ]; then
    version="$("$frozen/dexpulse" --version)" || die 1 "the frozen program does not run"
    version="${version#dexpulse }"
fi
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*([.+-][0-9A-Za-z.]+)?$ ]] ||
    die 2 "not a package version: $version"

# (macOS's /bin/bash is 3.2, where "${a[@]}" of an empty array fails under set -u: hence the
# ${a[@]+...} form below)
signing=()
[ -z "$sign" ] || signing=(--sign "$sign" --timestamp)

mkdir -p "$work"
component="$work/dexpulse-component.pkg"
say "pkgbuild $LABEL $version"
pkgbuild --root "$payload" --identifier "$LABEL" --version "$version" \
    --scripts "$scripts" --install-location / --ownership recommended \
    ${signing[@]+"${signing[@]}"} "$component"

# The product archive's distribution: one hidden choice, installable on the boot volume only,
# on the CPU architectures the frozen program was built for.
archs="$(lipo -archs "$frozen/dexpulse" 2>/dev/null | tr ' ' ',')" || archs=""
cat >"$work/distribution.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>dexpulse agent</title>
    <options customize="never" require-scripts="false"${archs:+ hostArchitectures="$archs"}/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <choices-outline>
        <line choice="default">
            <line choice="$LABEL"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="$LABEL" visible="false">
        <pkg-ref id="$LABEL"/>
    </choice>
    <pkg-ref id="$LABEL" version="$version" onConclusion="none">$(basename "$component")</pkg-ref>
</installer-gui-script>
EOF

product="$output/dexpulse-$version.pkg"
say "productbuild $product"
productbuild --distribution "$work/distribution.xml" --package-path "$work" \
    ${signing[@]+"${signing[@]}"} "$product"

if [ -n "${DEXPULSE_NOTARY_PROFILE:-}" ]; then
    [ -n "$sign" ] || die 2 "notarisation needs a signed package (--sign)"
    [ -n "${DEXPULSE_CODESIGN_IDENTITY:-}" ] ||
        say "warning: DEXPULSE_CODESIGN_IDENTITY was not set for the build: Apple rejects" \
            "ad-hoc signed binaries"
    say "notarising (xcrun notarytool submit --wait)"
    xcrun notarytool submit "$product" --keychain-profile "$DEXPULSE_NOTARY_PROFILE" --wait
    xcrun stapler staple "$product"
fi
say "built $product"
