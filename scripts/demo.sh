#!/usr/bin/env bash
# The demo: the walkthrough a new user follows, end to end, with our CLI and the real kubectl.
# It runs in a scratch HOME, so the embedded local host cluster starts, and cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
bash scripts/bootstrap.sh
command -v kubectl >/dev/null || { echo "error: the demo needs kubectl on PATH" >&2; exit 1; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vcluster-demo.XXXXXX")
export HOME="$SCRATCH/home" XDG_DATA_HOME="$SCRATCH/home/.local/share"
mkdir -p "$HOME"
unset KUBECONFIG
export PATH="$REPO/.venv/bin:$PATH"
cleanup() {
  vcluster delete my-vcluster --namespace test-namespace >/dev/null 2>&1 || true
  vcluster host down --delete >/dev/null 2>&1 || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; bash -c "$*"; }

run vcluster create my-vcluster --namespace test-namespace
run vcluster connect my-vcluster --namespace test-namespace
run kubectl create deployment testapp --image=nginx --replicas=2
run kubectl rollout status deployment/testapp --timeout=60s
run kubectl get pods -o wide
run vcluster disconnect
run 'kubectl get pods -n test-namespace | grep testapp'
run 'kubectl get pods,services,configmaps,secrets -n test-namespace --show-labels | grep "vcluster.loft.sh/managed-by=my-vcluster"'
run vcluster connect my-vcluster --namespace test-namespace
run kubectl get nodes -o wide
run 'kubectl logs deployment/testapp | head -3'              # from the host pod, through the syncer
run 'kubectl exec deployment/testapp -- sh -c "echo hello from \$HOSTNAME"'
run vcluster disconnect
run 'kubectl get cm -n test-namespace my-vcluster-config -o yaml | grep -A 20 "sync:"'
POD=$(kubectl get pods -n test-namespace -l vcluster.loft.sh/managed-by=my-vcluster -o name | sed -n 1p)
run kubectl label -n test-namespace "$POD" test-label=from-host
run vcluster connect my-vcluster --namespace test-namespace
sleep 1
run 'kubectl get pods --show-labels | grep test-label'
run vcluster disconnect
run 'vcluster logs my-vcluster --namespace test-namespace | grep -E "(create|update|delete|sync)" | tail -8'
DATA=$(vcluster describe my-vcluster -n test-namespace -o jsonpath='{.dataDir}')
QUERY="SELECT name FROM kine WHERE name LIKE '/vcluster/mappings/%' LIMIT 10;"
if command -v sqlite3 >/dev/null; then
  run "sqlite3 '$DATA/state.db' \"$QUERY\""
else
  step "sqlite3 $DATA/state.db \"$QUERY\"   (sqlite3 is not installed: the same query through Python)"
  python3 -c "import sqlite3,sys; [print(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]" "$DATA/state.db" "$QUERY"
fi
run vcluster list
run vcluster delete my-vcluster --namespace test-namespace
run vcluster host down --delete
printf '\n\033[1mdone: every step above ran against a live local host cluster and virtual cluster.\033[0m\n'
