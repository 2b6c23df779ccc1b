#!/bin/sh
# Build afu9 and run its main job in the foreground: `afu9 serve`, the
# orchestrator with its three MCP servers as children and the HTTP endpoint
# on $AFU9_HTTP_LISTEN (default 0.0.0.0:8080).  When DATABASE_URL is unset a
# private PostgreSQL is started (scripts/localdb.sh; reused on the next run).
# Arguments go to `afu9 serve` (e.g. --config FILE, --stdio).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps-debian.sh
BUILDDIR=${BUILDDIR:-$top/_build}
BUILDDIR=$BUILDDIR sh scripts/build.sh >&2
if [ -z "${DATABASE_URL:-}" ]; then
	DATABASE_URL=$(bash scripts/localdb.sh start)
	export DATABASE_URL
fi
exec "$BUILDDIR/orchestrator/afu9" serve "$@"
