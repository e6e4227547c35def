#!/usr/bin/env bash
# Turn a GPU box into a kubelab node: check the NVIDIA driver, the NVIDIA container
# toolkit and Docker, install kubelab into a venv, join the cluster with a bootstrap
# token, then write and enable the kubelet's systemd unit.
#
#   sudo deploy/install-node.sh --server https://10.0.0.2:6443 \
#       --token abcdef.0123456789abcdef --ca-fingerprint sha256:...   # from `kubelab token create`
#   deploy/install-node.sh --dry-run ...                             # print every step, change nothing
set -euo pipefail

usage() {
  cat <<USAGE
usage: install-node.sh --server URL --token TOKEN --ca-fingerprint sha256:HEX [options]

  --server URL            the cluster's API (https://HOST:6443)
  --token TOKEN           bootstrap token from \`kubelab token create\`
  --ca-fingerprint FP     CA fingerprint from \`kubelab token create\`
  --node-name NAME        this node's name (default: the host name)
  --address IP            this node's address (default: the one that reaches the server)
  --prefix DIR            where the venv goes (default /opt/kubelab)
  --home DIR              the node's state (default /var/lib/kubelab)
  --source PATH|SPEC      what pip installs (default: this checkout)
  --no-gpu                skip the NVIDIA checks (a CPU-only node)
  --dry-run               print every step; run nothing, write nothing
USAGE
}

SERVER="" TOKEN="" FINGERPRINT="" NODE_NAME="" ADDRESS=""
PREFIX=/opt/kubelab KL_HOME=/var/lib/kubelab GPU=1 DRY_RUN=0
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UNIT_TEMPLATE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/systemd/kubelab-kubelet.service"
UNIT_DIR=/etc/systemd/system

while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER="$2"; shift 2 ;;
    --token) TOKEN="$2"; shift 2 ;;
    --ca-fingerprint) FINGERPRINT="$2"; shift 2 ;;
    --node-name) NODE_NAME="$2"; shift 2 ;;
    --address) ADDRESS="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --home) KL_HOME="$2"; shift 2 ;;
    --source) SOURCE="$2"; shift 2 ;;
    --no-gpu) GPU=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-node.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

missing=()
[ -n "$SERVER" ] || missing+=(--server)
[ -n "$TOKEN" ] || missing+=(--token)
[ -n "$FINGERPRINT" ] || missing+=(--ca-fingerprint)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-node.sh: missing ${missing[*]} (run \`kubelab token create\` on the control-plane box)" >&2
  exit 2
fi
NODE_NAME="${NODE_NAME:-$(hostname -s | tr '[:upper:]' '[:lower:]')}"
if [ -z "$ADDRESS" ]; then
  host="${SERVER#https://}"; host="${host%%:*}"; host="${host%%/*}"
  ADDRESS="$(ip -4 route get "$host" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)"
  ADDRESS="${ADDRESS:-127.0.0.1}"
fi

step=0
# One numbered step: printed always, run unless --dry-run.
run() {
  step=$((step + 1))
  echo "[$step] $*"
  if [ "$DRY_RUN" = 0 ]; then
    "$@"
  fi
}

# A check: printed always; under --dry-run not run; otherwise a failure stops with the fix.
check() {
  local what="$1" fix="$2"; shift 2
  step=$((step + 1))
  echo "[$step] check $what: $*"
  if [ "$DRY_RUN" = 0 ] && ! "$@" >/dev/null 2>&1; then
    echo "install-node.sh: $what not found: $fix" >&2
    exit 1
  fi
}

[ "$DRY_RUN" = 1 ] && echo "dry run: nothing below is executed or written"

if [ "$GPU" = 1 ]; then
  check "NVIDIA driver" "install the driver (e.g. apt install nvidia-driver-550) and reboot, or pass --no-gpu" \
    nvidia-smi -L
  check "NVIDIA container toolkit" "install nvidia-container-toolkit and run \`nvidia-ctk runtime configure --runtime=docker\`" \
    nvidia-ctk --version
fi
check "Docker" "install Docker (apt install docker.io) and start it (systemctl enable --now docker)" \
  docker version

run mkdir -p "$PREFIX" "$KL_HOME"
run python3 -m venv "$PREFIX/venv"
run "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
run "$PREFIX/venv/bin/pip" install --quiet "$SOURCE"
run "$PREFIX/venv/bin/kubelab" join --server "$SERVER" --token "$TOKEN" \
  --ca-fingerprint "$FINGERPRINT" --home "$KL_HOME" --node-name "$NODE_NAME" \
  --address "$ADDRESS" --no-run

UNIT="$UNIT_DIR/kubelab-kubelet.service"
UNIT_TEXT="$(sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@KUBELAB_HOME@|$KL_HOME|g" \
  -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@ADDRESS@|$ADDRESS|g" "$UNIT_TEMPLATE")"
step=$((step + 1))
echo "[$step] write $UNIT:"
echo "$UNIT_TEXT" | sed 's/^/    /'
if [ "$DRY_RUN" = 0 ]; then
  printf '%s\n' "$UNIT_TEXT" > "$UNIT"
fi
run systemctl daemon-reload
run systemctl enable --now kubelab-kubelet.service

if [ "$DRY_RUN" = 1 ]; then
  echo "dry run done: $step steps"
else
  echo "node $NODE_NAME joined $SERVER; its kubelet runs as kubelab-kubelet.service (journalctl -u kubelab-kubelet)"
fi
