#!/usr/bin/env bash
# The demo: starts a vcluster API server in a scratch directory and drives it with the real kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
command -v kubectl >/dev/null || { echo "error: the demo needs kubectl on PATH" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/vcluster-demo.XXXXXX")
LOG="$DIR/apiserver.log"
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

.venv/bin/vcluster apiserver --data-dir "$DIR/data" --port 0 >"$DIR/ready" 2>"$LOG" &
PID=$!
for _ in $(seq 100); do grep -q "ready at" "$DIR/ready" 2>/dev/null && break; sleep 0.1; done
grep -q "ready at" "$DIR/ready" || { echo "the API server did not start:"; cat "$LOG"; exit 1; }
cat "$DIR/ready"
export KUBECONFIG="$DIR/data/kubeconfig"
K=(kubectl --cache-dir "$DIR/kcache")

step kubectl get ns;                 "${K[@]}" get ns
step kubectl version;                "${K[@]}" version
step kubectl create -f app.yaml      # a ConfigMap, a Deployment and a Service
"${K[@]}" apply --validate=false -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, labels: {app: web}}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 80}]}
YAML
step kubectl get all -o wide;        "${K[@]}" get all -o wide
step kubectl scale deployment web --replicas=5; "${K[@]}" scale deployment web --replicas=5
step kubectl label cm web-config tier=frontend; "${K[@]}" label cm web-config tier=frontend
step kubectl get cm --show-labels;   "${K[@]}" get cm --show-labels
step kubectl delete cm web-config;   "${K[@]}" delete cm web-config
step "sqlite3 state.db \"SELECT id, name FROM kine ORDER BY id DESC LIMIT 8\""
if command -v sqlite3 >/dev/null; then
  sqlite3 "$DIR/data/state.db" "SELECT id, name, deleted FROM kine ORDER BY id DESC LIMIT 8"
else
  .venv/bin/python - "$DIR/data/state.db" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute("SELECT id, name, deleted FROM kine ORDER BY id DESC LIMIT 8"):
    print("|".join(map(str, row)))
PY
fi
printf '\nDone. (The server ran with its state in %s; it is removed now.)\n' "$DIR"
