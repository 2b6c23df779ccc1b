#!/bin/sh
# Install the Debian 12 packages afu9 needs to build and test.
# Idempotent: does nothing when every package is already installed.
set -eu

PKGS="build-essential autoconf automake libtool pkg-config
libjansson-dev libpq-dev libcurl4-openssl-dev libsodium-dev libev-dev check
valgrind clang curl ca-certificates nodejs npm python3
postgresql-15 postgresql-client-15"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# node/npm may come from elsewhere than Debian's packages: accept any on PATH.
case " $missing " in *" nodejs "*) command -v node >/dev/null && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac
case " $missing " in *" npm "*) command -v npm >/dev/null && missing=$(echo "$missing" | sed 's/ npm//') ;; esac
case " $missing " in *" python3 "*) command -v python3 >/dev/null && missing=$(echo "$missing" | sed 's/ python3//') ;; esac
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
