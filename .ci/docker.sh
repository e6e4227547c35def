#!/usr/bin/env bash
# Make a Docker engine reachable at /var/run/docker.sock for the kubelet e2e tests.
# Idempotent: installs docker.io and busybox-static only when missing, starts dockerd in the
# background only when no engine answers, then waits (at most ~60 s) for the socket.
set -euo pipefail

SOCK=/var/run/docker.sock

engine_up() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if command -v docker >/dev/null 2>&1 && [ -S "$SOCK" ] && engine_up; then
  echo "docker.sh: engine already running"
  exit 0
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "docker.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! engine_up; then
  echo "docker.sh: starting dockerd (log: /tmp/dockerd.log)"
  # A sandbox without full cgroup or iptables control: fall back to simpler settings
  # only when the defaults fail, so a normal machine gets a normal engine.
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    if [ -S "$SOCK" ] && engine_up; then break; fi
    if ! kill -0 $! 2>/dev/null; then break; fi
    sleep 1
  done
  if ! engine_up; then
    echo "docker.sh: dockerd with defaults did not come up; retrying with --iptables=false"
    kill "$!" 2>/dev/null || true
    sleep 1
    nohup dockerd --iptables=false --ip6tables=false >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      if [ -S "$SOCK" ] && engine_up; then break; fi
      sleep 1
    done
  fi
fi

if engine_up; then
  echo "docker.sh: engine $(docker version --format '{{.Server.Version}}') ready at $SOCK"
else
  echo "docker.sh: dockerd did not start; last lines of /tmp/dockerd.log:" >&2
  tail -n 20 /tmp/dockerd.log >&2 || true
  exit 1
fi
