#!/bin/sh
# The shipping files: Dockerfile (and the scripts its RUN steps call),
# .dockerignore, compose.yaml, .env.example, ecs-task.json, the IAM
# policies in doc/iam/ and the documentation that must list every
# variable and configuration key.  t/ship/check.py prints TAP.
#
# Tools: python3 with botocore and PyYAML (installed with moto), Debian's
# docker-compose (scripts/deps-debian.sh), apt-cache.  A missing one skips
# its checks, unless CI=true or AFU9_REQUIRE_MOTO=1, where it fails them.
set -eu
: "${AFU9_SRCDIR:?}" "${AFU9_BUILDDIR:?}"
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
exec "$PYTHON" "$AFU9_SRCDIR/t/ship/check.py"
