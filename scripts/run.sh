#!/bin/sh
# Build afu9 and run its main job in the foreground.
#
# Until the orchestrator (`afu9 serve`) lands, the main job is the MCP
# server runtime of protocol/ serving on this terminal's stdio (the test
# server with the conformance fixtures): pipe JSON-RPC into it, e.g.
#   echo '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | ./scripts/run.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps-debian.sh
BUILDDIR=${BUILDDIR:-$top/_build} sh scripts/build.sh >&2
exec "${BUILDDIR:-$top/_build}/t/conformance-server" "$@"
