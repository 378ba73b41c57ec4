#!/usr/bin/env bash
# What the Dockerfile runs, without an engine: the bundle (dist/) and package.json copied
# into an empty directory with no node_modules anywhere above it, started as the image
# starts it, probed over HTTPS, and stopped with SIGTERM (graceful shutdown must exit 0).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

test -f "$repo/dist/main.js" || (cd "$repo" && npm run build --silent)
mkdir -p "$work/app" "$work/run"
cp "$repo/package.json" "$work/app/"
cp -r "$repo/dist" "$work/app/dist"
rm -rf "$work/app/dist/bench"
# Nothing to resolve a bare import from: the bundle must carry its dependencies.
for dir in "$work" "$(dirname "$work")"; do
  if [ -d "$dir/node_modules" ]; then echo "node_modules above the smoke test's directory: $dir" >&2; exit 1; fi
done

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
NODE_EXTRA_CA_CERTS="$work/run/certs/ca.crt" node -e "
fetch('https://127.0.0.1:$port/metrics').then((r) => r.text()).then((t) => {
  if (!/^digest_pinner_admissions_total\{.*outcome=\"ignored\"\} 1$/m.test(t)) { console.error(t); process.exit(1); }
}).catch((e) => { console.error(e); process.exit(1); });
"
# A CLI command from its own chunk; an invalid reference is a clear error with exit code 1, no stack trace.
set +e
out=$(cd "$work/run" && node "$work/app/dist/main.js" resolve 'Not/A:Valid:Ref' 2>&1)
code=$?
set -e
if [ "$code" != 1 ] || ! grep -q 'Not/A:Valid:Ref' <<<"$out" || grep -q '    at ' <<<"$out"; then
  echo "resolve of an invalid reference: exit $code, output: $out" >&2; exit 1
fi
kill -TERM "$pid"
wait "$pid"
echo "bundle without node_modules: started, answered /healthz, an AdmissionReview and /metrics, resolve gave a clear error, stopped cleanly on SIGTERM"
