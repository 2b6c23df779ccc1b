#!/bin/sh
# t/llmserver.py, the scripted OpenAI/Anthropic server the agent runner's
# tests talk to: both wire formats replayed from t/fixtures/llm, streams
# against the corpus in t/fixtures/sse, every fault kind and every
# strictness check.  t/llmserver_check.py prints TAP.
set -eu
: "${AFU9_SRCDIR:?}"
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
exec "$PYTHON" "$AFU9_SRCDIR/t/llmserver_check.py"
