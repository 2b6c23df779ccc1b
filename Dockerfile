# syntax=docker/dockerfile:1
#
# afu9 container image: one process, `afu9 serve`, which forks the three
# MCP servers (afu9-github, afu9-deploy, afu9-observability) and serves
# /health /ready /metrics on port 8080.
#
#   docker build -t afu9 .
#   docker run --rm -p 8080:8080 --env-file .env afu9
#   docker run --rm --env-file .env afu9 migrate up
#
# The RUN steps call the same scripts as CI (scripts/deps-debian.sh,
# scripts/build.sh, scripts/install.sh; t/test_ship.sh runs them and
# checks this file), so a change that breaks them fails the test suite.

# ---- build stage: compilers, -dev packages, autotools ----
FROM debian:12 AS build
WORKDIR /src
# The package list alone first, so the layer is reused while it is unchanged.
COPY scripts/deps-debian.sh scripts/deps-debian.sh
RUN sh scripts/deps-debian.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN BUILDDIR=/build sh scripts/build.sh && \
    BUILDDIR=/build sh scripts/install.sh /out

# ---- runtime stage: the shared libraries and CA certificates only ----
FROM debian:12-slim AS runtime
COPY scripts/deps-debian.sh /tmp/deps-debian.sh
RUN sh /tmp/deps-debian.sh --runtime && \
    rm -rf /var/lib/apt/lists/* /tmp/deps-debian.sh && \
    groupadd --system --gid 10001 afu9 && \
    useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/afu9 \
        --create-home --shell /usr/sbin/nologin afu9
# Binaries in /usr/local/bin, man pages, and the SQL files that
# `afu9 migrate up` applies in /usr/local/share/afu9/migrations.
COPY --from=build /out/usr/local/ /usr/local/

USER 10001:10001
WORKDIR /var/lib/afu9
ENV AFU9_HTTP_LISTEN=0.0.0.0:8080 \
    AFU9_LOG_FORMAT=json
EXPOSE 8080

# afu9 runs as PID 1 (exec-form ENTRYPOINT, no shell in between), so the
# SIGTERM of `docker stop` or of ECS reaches it directly: it turns /ready
# to 503, lets calls in flight finish for up to afu9.shutdownGraceMs
# (20 s by default), then stops its children and exits 0.  It also does
# PID 1's other job: its libev loop reaps every child that exits (the
# SIGCHLD handler waits for any pid), so no zombies pile up.  Give the
# runtime a stop timeout above the grace (compose stop_grace_period, ECS
# stopTimeout: 30 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["afu9", "health"]
ENTRYPOINT ["afu9"]
CMD ["serve"]
