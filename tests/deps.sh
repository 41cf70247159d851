#!/bin/sh
# Installs the Debian packages zkfs needs to build, run and test, if any is missing.
# Runs `apt-get update` once (a fresh machine's package lists are empty), then `apt-get install -y`.
set -e
PKGS="build-essential pkg-config libevent-dev libmsgpack-dev libfuse3-dev fuse3 libcmocka-dev
      zookeeper zookeeper-bin libzookeeper-mt-dev python3-kazoo inotify-tools netcat-openbsd procps bc attr iptables"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
