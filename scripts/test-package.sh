#!/usr/bin/env bash
# Proves the .deb by installing it where nothing of the repository is: a clean Debian 12 root made
# here (debootstrap, minbase), the package installed with apt (its dependencies from Debian's
# archive, no recommends), then
#   - the installed app started under Xvfb with an image, as "Open with" does, and screenshotted:
#     the screen must not be blank, the app must take the image, its data
#     must appear in the platform folders (~/.local/share/<identifier>, a log file there) and
#     nothing may be written under /usr (dpkg --verify, and no file newer than the start);
#   - the installed `smolvlm generate` answering on the tiny model with transformers' tokens;
#   - `apt-get purge`, after which none of the package's files is left.
# The .rpm, where given, is installed, verified and removed by rpm in a root of its own.
#
#   bash scripts/test-package.sh PATH.deb [PATH.rpm]
#
# Needs root (debootstrap, chroot, mounts; sudo otherwise) and Debian's archive (apt's registry);
# installs debootstrap, scrot, python3-pil and rpm where missing. About 2 minutes. The
# screenshot and logs go to target/package-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: bash scripts/test-package.sh PATH.deb [PATH.rpm]" >&2; exit 2; }
DEB=$(realpath "$1")
RPM=${2:+$(realpath "$2")}
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" "$@"; fi

NEED=(debootstrap debian-archive-keyring scrot python3-pil rpm xvfb)
if ! dpkg -s "${NEED[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${NEED[@]}" >/dev/null
fi

ART=$ROOT/target/package-test
FS=$ART/rootfs
MODEL=$ROOT/tests/fixtures/tiny-smolvlm
XVFB_PID=""
cleanup() {
  local rc=$?
  # Processes still running inside the root (the app, its web processes) hold its mounts.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$FS" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
  done
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  for m in tmp/.X11-unix dev sys proc; do
    mountpoint -q "$FS/$m" && umount -R "$FS/$m" 2>/dev/null || umount -lR "$FS/$m" 2>/dev/null || true
  done
  # Never remove through a mount that is still there (the host's /dev is bound inside).
  if grep -q " $FS/" /proc/mounts; then
    echo "package test: mounts left under $FS; not removed" >&2
  else
    rm -rf --one-file-system "$FS"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM
fail() { echo "package test: $*" >&2; exit 1; }
in_root() { chroot "$FS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

rm -rf "$ART"
mkdir -p "$ART"
# The mirror apt uses here (a clean root of the same release from the same archive).
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
echo "package test: debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$FS" "$MIRROR" >"$ART/debootstrap.log" 2>&1 ||
  { tail -20 "$ART/debootstrap.log" >&2; fail "debootstrap failed"; }
cp /etc/resolv.conf "$FS/etc/resolv.conf"
mount -t proc proc "$FS/proc"
mount -t sysfs sys "$FS/sys"
mount --rbind /dev "$FS/dev" && mount --make-rslave "$FS/dev"

cp "$DEB" "$FS/tmp/smolvlm-desktop.deb"
in_root apt-get update -qq
echo "package test: apt-get install $(basename "$DEB")"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/smolvlm-desktop.deb >"$ART/apt-install.log" 2>&1 || { tail -20 "$ART/apt-install.log" >&2; fail "install failed"; }
PKG=$(dpkg-deb --field "$DEB" Package)
in_root dpkg-query -L "$PKG" >"$ART/files.txt"
echo "package test: $PKG $(in_root dpkg-query -W -f='${Version}, installed size ${Installed-Size} KiB' "$PKG")"
for f in /usr/bin/smolvlm-desktop /usr/bin/smolvlm; do
  [ -x "$FS$f" ] || fail "$f not installed"
done
DESKTOP=$(grep '^/usr/share/applications/.*\.desktop$' "$ART/files.txt" | head -1)
[ -n "$DESKTOP" ] || fail "no desktop entry"
grep -q '^Exec=smolvlm-desktop %F$' "$FS$DESKTOP" || fail "desktop entry does not pass files: $(grep ^Exec "$FS$DESKTOP")"
for mime in image/png image/jpeg application/pdf; do
  grep -q "^MimeType=.*$mime" "$FS$DESKTOP" || fail "desktop entry lacks $mime"
done
grep -q '^/usr/share/icons/hicolor/.*/apps/smolvlm-desktop.png$' "$ART/files.txt" || fail "no icons"
grep -v '^/usr\(/\|$\)\|^/\.$' "$ART/files.txt" && fail "files outside /usr (above)"

# The installed app, started as a user would (no variable of the repository's tests), on a screen
# of its own, with an image as "Open with" starts it (the desktop entry's `%F`).
cp -r "$MODEL" "$FS/tmp/tiny-smolvlm"
for d in $(seq 90 120); do [ -e "/tmp/.X11-unix/X$d" ] || break; done
Xvfb ":$d" -screen 0 1280x800x24 -nolisten tcp -ac >"$ART/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$d" ] && break; sleep 0.1; done
mkdir -p "$FS/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$FS/tmp/.X11-unix"
touch "$ART/started"
sleep 1
in_root env DISPLAY=":$d" XDG_RUNTIME_DIR=/tmp smolvlm-desktop /tmp/tiny-smolvlm/img_wide_300x200.png \
  >"$ART/app.log" 2>&1 &
APP_PID=$!
DATA=$FS/root/.local/share/org.smolvlm.desktop
SHOT=$ART/installed-app.png
shown=""
for _ in $(seq 1 60); do
  sleep 1
  kill -0 "$APP_PID" 2>/dev/null || { cat "$ART/app.log" >&2; fail "the installed app exited"; }
  DISPLAY=":$d" scrot --overwrite "$SHOT" 2>/dev/null || continue
  # A blank screen is one colour; the app's window, rendered, has hundreds (text, icons).
  colours=$(/usr/bin/python3 -c 'import sys; from PIL import Image; print(len(Image.open(sys.argv[1]).convert("RGB").getcolors(1 << 24)))' "$SHOT")
  if [ "$colours" -ge 64 ]; then shown=$colours; break; fi
done
[ -n "$shown" ] || fail "the screen stayed blank (screenshot: $SHOT)"
sleep 3 # let the first view settle before the screenshot that is kept
DISPLAY=":$d" scrot --overwrite "$SHOT"
echo "package test: the installed app is on screen ($shown colours; $SHOT)"
[ -d "$DATA" ] || fail "no data folder at ~/.local/share/org.smolvlm.desktop"
ls "$DATA"/logs/*.log >/dev/null 2>&1 || fail "no log file in $DATA/logs"
grep -q "opened with 1 file" "$DATA"/logs/*.log || fail "the app did not take the file it was opened with"
kill "$APP_PID" 2>/dev/null || true
wait "$APP_PID" 2>/dev/null || true
in_root dpkg --verify "$PKG" || fail "the package's files changed"
written=$(find "$FS/usr" "$FS/opt" -newer "$ART/started" -not -type d 2>/dev/null | sed "s|^$FS||")
[ -z "$written" ] || fail "the app wrote into the system folders: $written"

# The installed CLI, on the tiny model copied into the root.
in_root smolvlm generate --model /tmp/tiny-smolvlm --image /tmp/tiny-smolvlm/img_wide_300x200.png \
  --prompt "What is in this image?" --max-new-tokens 24 --json >"$ART/generate.json" 2>"$ART/generate.log" ||
  { cat "$ART/generate.log" >&2; fail "installed smolvlm generate failed"; }
python3 scripts/check-golden-tokens.py "$ART/generate.json" "$MODEL/golden.json" 1 "package test: installed smolvlm generate"

in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$PKG" >"$ART/apt-purge.log" 2>&1 ||
  { tail -20 "$ART/apt-purge.log" >&2; fail "purge failed"; }
in_root dpkg-query -W -f='${Status}\n' "$PKG" 2>/dev/null | grep -q '^install' && fail "still installed"
left=$(while read -r f; do [ -d "$FS$f" ] || [ ! -e "$FS$f" ] || echo "$f"; done <"$ART/files.txt")
[ -z "$left" ] || fail "files left after purge: $left"
echo "package test: purged, no file left"

# The .rpm: installed and removed by rpm itself in an empty root of its own (its dependencies,
# GTK and WebKitGTK as Fedora names them, are not there: --nodeps), its files verified, its CLI
# (glibc only) run on the host.
if [ -n "$RPM" ]; then
  RPMROOT=$ART/rpm-root
  rm -rf "$RPMROOT"
  mkdir -p "$RPMROOT"
  # Debian's rpm warns at every install unless told it is meant.
  IN_RPMROOT=(rpm --root "$RPMROOT")
  rpm --help 2>&1 | grep -q -- --force-debian && IN_RPMROOT+=(--force-debian)
  rpm --root "$RPMROOT" --initdb
  "${IN_RPMROOT[@]}" -i --nodeps "$RPM" 2>"$ART/rpm-install.log" || { cat "$ART/rpm-install.log" >&2; fail "rpm -i failed"; }
  RPKG=$(rpm -qp --qf '%{NAME}' "$RPM")
  "${IN_RPMROOT[@]}" -V --nodeps "$RPKG" || fail "the rpm's files do not verify"
  for f in /usr/bin/smolvlm-desktop /usr/bin/smolvlm; do [ -x "$RPMROOT$f" ] || fail "rpm lacks $f"; done
  grep -q '^Exec=smolvlm-desktop %F$' "$RPMROOT"/usr/share/applications/*.desktop ||
    fail "the rpm's desktop entry does not pass files"
  "$RPMROOT/usr/bin/smolvlm" generate --model "$MODEL" --image "$MODEL/img_wide_300x200.png" \
    --prompt "What is in this image?" --max-new-tokens 24 --json >"$ART/generate-rpm.json" 2>"$ART/generate-rpm.log" ||
    { cat "$ART/generate-rpm.log" >&2; fail "the rpm's smolvlm generate failed"; }
  python3 scripts/check-golden-tokens.py "$ART/generate-rpm.json" "$MODEL/golden.json" 1 "package test: the rpm's smolvlm generate"
  "${IN_RPMROOT[@]}" -e "$RPKG" || fail "rpm -e failed"
  left=$(find "$RPMROOT/usr" -not -type d 2>/dev/null)
  [ -z "$left" ] || fail "files left after rpm -e: $left"
  echo "package test: $(basename "$RPM") installed by rpm ($(rpm -qp --qf '%{SIZE}' "$RPM" | awk '{printf "%d KiB", $1/1024}')), verified and removed"
  rm -rf "$RPMROOT"
fi
