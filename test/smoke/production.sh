#!/usr/bin/env bash
# What the Dockerfile runs, without an engine: a production-only install of the built
# package into an empty directory, started as a non-root user would start it, probed
# over HTTPS, and stopped with SIGTERM (graceful shutdown must exit 0).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

test -f "$repo/dist/main.js" || (cd "$repo" && npm run build --silent)
mkdir -p "$work/app" "$work/run"
cp "$repo/package.json" "$repo/package-lock.json" "$work/app/"
cp -r "$repo/dist" "$work/app/dist"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
if [ -d "$work/app/node_modules/vitest" ] || [ -d "$work/app/node_modules/typescript" ]; then
  echo "production install contains dev dependencies" >&2; exit 1
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# Development certificate path: no --tls-cert, so it writes one into ./certs of the working directory.
(cd "$work/run" && exec node "$work/app/dist/main.js" serve --port "$port" --host 127.0.0.1 --log-level warn) &
pid=$!
for _ in $(seq 1 50); do
  [ -f "$work/run/certs/ca.crt" ] && NODE_EXTRA_CA_CERTS="$work/run/certs/ca.crt" node -e "fetch('https://127.0.0.1:$port/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && break
  sleep 0.2
done
NODE_EXTRA_CA_CERTS="$work/run/certs/ca.crt" node -e "
const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'smoke', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, operation: 'CREATE', object: {} } };
fetch('https://127.0.0.1:$port/mutate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) })
  .then((r) => r.json())
  .then((j) => { if (j.response?.uid !== 'smoke' || j.response.allowed !== true) { console.error(JSON.stringify(j)); process.exit(1); } })
  .catch((e) => { console.error(e); process.exit(1); });
"
kill -TERM "$pid"
wait "$pid"
echo "production install: started, answered /healthz and an AdmissionReview, stopped cleanly on SIGTERM"
