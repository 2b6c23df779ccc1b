#!/bin/sh
# Install the Debian 12 packages afu9 needs.
#
#   deps-debian.sh [--build | --runtime] [--print]
#
#   (no option)  everything to build and test afu9 (the default)
#   --build      only what building needs: the image's build stage
#   --runtime    only the shared libraries the installed binaries load and
#                the CA certificates: the image's runtime stage
#   --print      print the package names, one a line; install nothing
#
# Idempotent: does nothing when every package is already installed.
set -eu

BUILD="build-essential autoconf automake libtool pkg-config
libjansson-dev libpq-dev libcurl4-openssl-dev libsodium-dev libev-dev check
ca-certificates"
RUNTIME="libjansson4 libpq5 libcurl4 libsodium23 libev4 ca-certificates"
TEST="valgrind clang curl nodejs npm python3 chromium
postgresql-15 postgresql-client-15 docker-compose wrk"

PKGS="$BUILD $TEST" print=0
for arg in "$@"; do
	case $arg in
	--build) PKGS=$BUILD ;;
	--runtime) PKGS=$RUNTIME ;;
	--print) print=1 ;;
	*) echo "usage: deps-debian.sh [--build | --runtime] [--print]" >&2; exit 2 ;;
	esac
done
if [ "$print" = 1 ]; then
	printf '%s\n' $PKGS
	exit 0
fi

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
