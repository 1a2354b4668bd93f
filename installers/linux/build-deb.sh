#!/usr/bin/env bash
# Build a dexpulse .deb: the program in a virtualenv of the distribution's own Python under
# /opt, its systemd unit, its system user (sysusers.d) and its maintainer scripts.
#
#   installers/linux/build-deb.sh [--package agent|collector] [--out DIR]
#                                 [--python /usr/bin/python3] [--revision N]
#
#   agent      dexpulse: the agent service, the tray (autostart entry, icon), /usr/bin/dexpulse
#   collector  dexpulse-collector: the collector service and /usr/bin/dexpulse-collector,
#              which runs `dexpulse collector ...` as the service's user with its settings
#
# Needs that python3 (with venv), dpkg-deb and the package index (or a pip mirror). The
# package depends on that Python's exact version (pythonX.Y), which its compiled wheels are
# built for: build on the release you deploy to (Debian 12 and Ubuntu 24.04 separately).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/dist"
python=/usr/bin/python3
revision=1
kind=agent

while [ $# -gt 0 ]; do
    case "$1" in
    --package) kind=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --revision) revision=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-deb.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

case "$kind" in
agent) name=dexpulse; extras="agent,tray"; unit=dexpulse-agent.service ;;
collector) name=dexpulse-collector; extras="collector"; unit=dexpulse-collector.service ;;
*) echo "build-deb.sh: --package is agent or collector, not $kind" >&2; exit 2 ;;
esac

for tool in dpkg-deb dpkg; do
    command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is required" >&2; exit 1; }
done
"$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' || {
    echo "build-deb.sh: $python must be Python 3.11 or newer with venv and ensurepip" >&2
    exit 1
}

version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$repo/pyproject.toml")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
arch=$(dpkg --print-architecture)
deb="$out/${name}_${version}-${revision}_${arch}.deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
prefix="/opt/$name/venv"
venv="$root$prefix"

echo "build-deb.sh: $name $version for python$pyver/$arch" >&2
# --system-site-packages: the tray's icon uses the distribution's PyGObject (python3-gi),
# which cannot be installed from the package index without a compiler and GTK headers.
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    "${repo}[$extras]"
"$venv/bin/python" -m pip uninstall --quiet --yes pip setuptools wheel 2>/dev/null || true

# The venv was made at a build path; make it the installed path. Scripts name their
# interpreter, pyvenv.cfg the command that made it; activate scripts are no use to a service.
rm -f "$venv"/bin/activate* "$venv"/bin/Activate.ps1
find "$venv/lib" -name direct_url.json -delete
grep -rlI --null "$venv" "$venv/bin" "$venv/pyvenv.cfg" | xargs -0 -r sed -i "s#$venv#$prefix#g"
find "$venv" -name __pycache__ -prune -exec rm -rf {} +
# Bytecode compiled now, named by installed paths: the service cannot write under /opt.
"$venv/bin/python" -m compileall -q -j 0 -s "$root" -p / "$venv/lib" >/dev/null

install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" \
    "$root/usr/share/doc/$name"
install -m 0644 "$here/$unit" "$root/lib/systemd/system/"
install -m 0644 "$here/debian/$kind/sysusers.conf" "$root/usr/lib/sysusers.d/$name.conf"
install -m 0644 "$repo/README.md" "$root/usr/share/doc/$name/"
install -m 0644 "$repo/installers/README.md" "$root/usr/share/doc/$name/installers.md"
if [ "$kind" = agent ]; then
    ln -s "$prefix/bin/dexpulse" "$root/usr/bin/dexpulse"
    install -d "$root/etc/xdg/autostart"
    install -m 0644 "$here/dexpulse-tray.desktop" "$root/etc/xdg/autostart/"
    # The tray's own icon, drawn once per size by the code that draws it in the panel.
    "$venv/bin/python" - "$root/usr/share/icons/hicolor" <<'ICONS'
import sys
from pathlib import Path
from dexpulse.agent.tray.app import draw_icon
for size in (32, 64, 128, 256):
    apps = Path(sys.argv[1]) / f"{size}x{size}" / "apps"
    apps.mkdir(parents=True)
    draw_icon("connected", False, size).save(apps / "dexpulse.png")
ICONS
    depends="python$pyver, systemd, passwd"
    recommends="python3-tk, python3-gi, gir1.2-ayatanaappindicator3-0.1 | gir1.2-appindicator3-0.1"
    summary="dexpulse endpoint agent: digital employee experience telemetry"
    about=" Samples Wi-Fi, network reachability, CPU, app crashes and peripheral failures on
 this machine and sends them to a dexpulse collector, which scores the experience and
 flags outages. Runs as the dexpulse-agent systemd service under its own user; the
 tray (started at login) shows pulse surveys."
else
    install -m 0755 "$here/debian/collector/dexpulse-collector" "$root/usr/bin/"
    install -d "$root/usr/share/dexpulse-collector"
    install -m 0644 "$here/debian/collector/collector.env" "$root/usr/share/dexpulse-collector/"
    depends="python$pyver, systemd, passwd, util-linux"
    recommends="postgresql"
    summary="dexpulse collector: digital employee experience monitor server"
    about=" Receives the dexpulse agents' telemetry, scores each device's digital
 experience, detects outages and serves the console and API. Runs as the
 dexpulse-collector systemd service on SQLite or PostgreSQL."
fi
if grep -rlI "$work" "$root" >/dev/null; then
    echo "build-deb.sh: the build path leaked into: $(grep -rlI "$work" "$root" | head -5)" >&2
    exit 1
fi

install -d "$root/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$here/debian/$kind/$script" "$root/DEBIAN/"
done
size_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: ${version}-${revision}
Architecture: $arch
Maintainer: dexpulse developers <dexpulse@localhost>
Installed-Size: $size_kib
Depends: $depends
Recommends: $recommends
Section: admin
Priority: optional
Description: $summary
$about
CONTROL

mkdir -p "$out"
dpkg-deb --build --root-owner-group -Zxz "$root" "$deb" >/dev/null
echo "$deb"
