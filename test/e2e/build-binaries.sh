#!/usr/bin/env bash
# Builds the control-plane binaries used by the e2e tests (kube-apiserver,
# kube-controller-manager, kubectl, etcd) from the Go modules pinned in
# test/e2e/harness/, into a cache outside the work tree:
#
#   ${DP_E2E_CACHE:-$HOME/.cache/digest-pinner/e2e}/<k8s-version>-<etcd-version>/bin/
#
# Usage: build-binaries.sh [MINOR]
#   MINOR (default $DP_E2E_KUBE) picks the Kubernetes module: empty for the newest
#   (harness/kube), `1.30` for harness/kube-1.30. etcd (harness/etcd) is the same for all.
#
# Binaries already present are not rebuilt, so this is cheap to re-run. The first
# build takes a long while on a 2-core machine (see the timing it prints).
# Prints the bin directory as the last line of stdout; everything else goes to stderr.
#
# Env: DP_E2E_KUBE (as MINOR), DP_E2E_CACHE (cache root), DP_E2E_BUILD_JOBS (parallel compile jobs, default 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
etcd_mod="$here/harness/etcd"
wanted="${1:-${DP_E2E_KUBE:-}}"

log() { printf '[e2e build] %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "error: 'go' is not on PATH (Go >= 1.26 is needed)"; exit 1; }

pinned_kubernetes() { awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$1/go.mod"; }

# harness/kube is the newest minor, so DP_E2E_KUBE=<its minor> selects it too.
kube_mod="$here/harness/kube"
if [[ -n "$wanted" ]]; then
  [[ "$wanted" =~ ^1\.[0-9]+$ ]] || { log "error: DP_E2E_KUBE must be a Kubernetes minor such as 1.30, not '$wanted'"; exit 1; }
  [[ -d "$here/harness/kube-$wanted" ]] && kube_mod="$here/harness/kube-$wanted"
fi

# The versions come from the harness go.mod files, the single place they are pinned.
k8s_version="$(pinned_kubernetes "$kube_mod")"
if [[ -n "$wanted" && "$k8s_version" != "v$wanted."* ]]; then
  available="$(cd "$here/harness" && ls -d kube-1.* 2>/dev/null | sed 's/^kube-//' | paste -sd ' ')"
  log "error: no harness module pins Kubernetes $wanted: ${kube_mod#"$here/"} is $k8s_version; others: ${available:-none}"
  exit 1
fi
etcd_version="$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$etcd_mod/go.mod")"
[[ -n "$k8s_version" && -n "$etcd_version" ]] || { log "error: cannot read pinned versions from harness go.mod files"; exit 1; }

cache_root="${DP_E2E_CACHE:-$HOME/.cache/digest-pinner/e2e}"
bin_dir="$cache_root/${k8s_version}-${etcd_version}/bin"
mkdir -p "$bin_dir"

jobs="${DP_E2E_BUILD_JOBS:-2}"
export GOMAXPROCS="$jobs"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# One builder at a time per cache dir (parallel test runs, or a re-run while a
# background build is still going).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$bin_dir/../.build.lock"
  if ! flock -n 9; then
    log "another build is running for $bin_dir; waiting for it"
    flock 9
  fi
fi

missing_kube=()
for name in kube-apiserver kube-controller-manager kubectl; do
  [[ -x "$bin_dir/$name" ]] || missing_kube+=("$name")
done
need_etcd=0
[[ -x "$bin_dir/etcd" ]] || need_etcd=1

if [[ ${#missing_kube[@]} -eq 0 && $need_etcd -eq 0 ]]; then
  log "up to date: kubernetes $k8s_version, etcd $etcd_version in $bin_dir"
  echo "$bin_dir"
  exit 0
fi

log "go: $(go version)"
start=$SECONDS

# Build into a temp dir inside bin_dir's parent and move into place, so an interrupted
# build never leaves a half-written binary that a later run would take as built.
tmp_out="$(mktemp -d "$bin_dir/../.build.XXXXXX")"
trap 'rm -rf "$tmp_out"' EXIT

if [[ ${#missing_kube[@]} -gt 0 ]]; then
  # Same version stamping as kubernetes' hack/lib/version.sh, so that `kubectl version`
  # and /version report the pinned release rather than v0.0.0-master.
  ver="${k8s_version#v}"
  major="${ver%%.*}"
  rest="${ver#*.}"
  minor="${rest%%.*}"
  build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ldflags="-s -w"
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  pkgs=()
  for name in "${missing_kube[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  log "building kubernetes $k8s_version: ${missing_kube[*]} (-p $jobs) ..."
  t0=$SECONDS
  (cd "$kube_mod" && go build -p "$jobs" -trimpath -ldflags "$ldflags" -o "$tmp_out/" "${pkgs[@]}")
  for name in "${missing_kube[@]}"; do mv -f "$tmp_out/$name" "$bin_dir/$name"; done
  log "built ${missing_kube[*]} in $((SECONDS - t0))s"
fi

if [[ $need_etcd -eq 1 ]]; then
  log "building etcd $etcd_version (-p $jobs) ..."
  t0=$SECONDS
  (cd "$etcd_mod" && go build -p "$jobs" -trimpath -ldflags "-s -w" -o "$tmp_out/etcd" ./cmd/etcd)
  mv -f "$tmp_out/etcd" "$bin_dir/etcd"
  log "built etcd in $((SECONDS - t0))s"
fi

log "one-time build took $((SECONDS - start))s; binaries in $bin_dir:"
(cd "$bin_dir" && ls -l kube-apiserver kube-controller-manager kubectl etcd | awk '{ printf "  %-26s %6.1f MiB\n", $9, $5 / 1048576 }' >&2)
echo "$bin_dir"
