#!/usr/bin/env bash
# Bring up a Docker engine for the container test (tests/container/) and build its offline base image.
#
#   docker/engine.sh            # engine reachable + image wsusauto-base:bookworm present, or exit 1
#
# 1. If `docker info` already answers, that engine is used as it is.
# 2. Else (as root) Debian's docker.io and debootstrap are installed where missing, and
#    `dockerd --bridge=none --iptables=false` is started in the background (no bridge network exists:
#    containers run with the host network only); overlay2 is tried first, then vfs.
# 3. The base image is a debootstrap root of Debian bookworm (python3, python3-venv) imported with
#    `docker import`; it is built once and kept by the engine. No image registry is ever contacted:
#    debootstrap uses the Debian mirror apt is configured with here.
#
# State goes to $WSUSAUTO_DOCKER_DIR (default build/docker): dockerd.log, dockerd.pid (only when this
# script started the engine), debootstrap.log, and unavailable.txt, which holds the exact failure
# lines when the engine or the image could not be had. The container test reads that file and puts
# it in its skip reason; it is removed on success.
set -uo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE="${WSUSAUTO_BASE_IMAGE:-wsusauto-base:bookworm}"
SUITE="bookworm"
DIR="${WSUSAUTO_DOCKER_DIR:-build/docker}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
UNAVAILABLE="$DIR/unavailable.txt"
rm -f "$UNAVAILABLE" "$DIR/dockerd.pid"
STEP="start"
ROOT=""

log() { printf 'docker/engine.sh: %s\n' "$*" >&2; }

fail() {  # fail "what failed" [log file whose last lines say why]
    {
        printf '%s\n' "$1"
        if [ -n "${2:-}" ] && [ -s "$2" ]; then  # the log's error lines, else its last lines
            local pattern='error|fail|denied|not supported|permission|invalid|cannot|unable'
            if grep -qiE "$pattern" "$2"; then grep -iE "$pattern" "$2" | tail -n 8; else tail -n 8 "$2"; fi
        fi
    } >"$UNAVAILABLE"
    log "unavailable: $(tr '\n' ' ' <"$UNAVAILABLE")"
    exit 1
}

on_exit() { [ -z "$ROOT" ] || remove_root "$ROOT"; }
on_term() { trap - TERM; fail "docker/engine.sh was stopped (time limit?) during: $STEP" ""; }
trap on_exit EXIT
trap on_term TERM INT

engine_up() { docker info >/dev/null 2>&1; }

wait_for_engine() {  # wait_for_engine PID SECONDS
    local pid=$1 deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        engine_up && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 1
    done
    return 1
}

apt_updated=0
apt_install() {  # apt_install PACKAGE...
    if [ "$(id -u)" != 0 ]; then
        fail "cannot install $* (Debian packages): not root" ""
    fi
    if [ $apt_updated = 0 ]; then
        apt-get update -q >"$DIR/apt.log" 2>&1 || fail "apt-get update failed" "$DIR/apt.log"
        apt_updated=1
    fi
    STEP="apt-get install $*"
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$DIR/apt.log" 2>&1 ||
        fail "apt-get install $* failed" "$DIR/apt.log"
}

start_engine() {
    command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || apt_install docker.io
    local driver
    for driver in overlay2 vfs; do
        log "starting dockerd --bridge=none --iptables=false --storage-driver=$driver"
        # setsid: the engine outlives this script; .ci/run stops it by the pid written here.
        setsid dockerd --bridge=none --iptables=false --ip6tables=false --storage-driver="$driver" \
            </dev/null >"$DIR/dockerd.log" 2>&1 &
        local pid=$!
        echo "$pid" >"$DIR/dockerd.pid"
        if wait_for_engine "$pid" 60; then
            log "engine up (dockerd pid $pid, storage driver $driver)"
            return 0
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$DIR/dockerd.pid"
        cp "$DIR/dockerd.log" "$DIR/dockerd-$driver.log"
    done
    cat "$DIR/dockerd-overlay2.log" "$DIR/dockerd-vfs.log" >"$DIR/dockerd-failed.log"
    fail "dockerd did not start (tried storage drivers overlay2 and vfs; logs: $DIR/dockerd-*.log)" \
        "$DIR/dockerd-failed.log"
}

unmount_under() {  # debootstrap can leave /proc (or /sys) mounted inside the root, even on success
    local mount
    awk -v root="$1/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mount; do
        umount -l "$mount" 2>/dev/null
    done
}

remove_root() {
    unmount_under "$1"
    rm -rf --one-file-system "$1"
}

debian_mirror() {  # the mirror apt uses here for $SUITE, from apt's own configuration
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk -v suite="$SUITE" '$2 == suite { print $1; exit }'
}

build_base_image() {
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    local mirror
    mirror="$(debian_mirror)"
    if [ -z "$mirror" ]; then
        [ "$(id -u)" = 0 ] && apt-get update -q >"$DIR/apt.log" 2>&1
        mirror="$(debian_mirror)"
    fi
    [ -n "$mirror" ] || fail "no Debian $SUITE mirror in apt's sources (apt-get indextargets)" ""
    ROOT="$(mktemp -d "${TMPDIR:-/tmp}/wsusauto-rootfs.XXXXXX")"
    local root="$ROOT"
    STEP="debootstrap"
    log "debootstrap $SUITE from apt's mirror into $root"
    if ! debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$root" "$mirror" \
        >"$DIR/debootstrap.log" 2>&1; then
        fail "debootstrap $SUITE failed" "$DIR/debootstrap.log"
    fi
    unmount_under "$root"
    # Smaller image: no apt lists, caches or docs are needed to run Python.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc \
        "$root"/usr/share/man
    log "docker import -> $BASE_IMAGE"
    STEP="docker import"
    if ! tar -C "$root" --one-file-system -c . | docker import - "$BASE_IMAGE" >"$DIR/import.log" 2>&1; then
        fail "docker import of the debootstrap root failed" "$DIR/import.log"
    fi
}

if engine_up; then
    log "engine already reachable"
else
    STEP="starting dockerd"
    start_engine
fi

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE present"
else
    build_base_image
fi
exit 0
