#!/usr/bin/env bash
# Builds the Helm binaries that test and render charts/digest-pinner, from the
# Go module proxy, into a cache outside the work tree:
#
#   ${DP_HELM_CACHE:-$HOME/.cache/digest-pinner/helm}/<version>/helm
#
#   scripts/build-helm.sh 4    # Helm 4: renders manifests/, installs in the e2e tests
#   scripts/build-helm.sh 3    # Helm 3: the chart must stay safe under it
#
# A binary already built is not rebuilt. Prints its path as the last line of
# stdout; progress goes to stderr. The versions are pinned here and nowhere else.
set -euo pipefail

HELM4_VERSION=v4.3.2
HELM3_VERSION=v3.21.4

log() { printf '[helm build] %s\n' "$*" >&2; }

case "${1:-}" in
  4) version=$HELM4_VERSION ;;
  3) version=$HELM3_VERSION ;;
  *) log "usage: $0 4|3"; exit 2 ;;
esac
major="${version%%.*}"
module="helm.sh/helm/$major"

cache_root="${DP_HELM_CACHE:-$HOME/.cache/digest-pinner/helm}"
dir="$cache_root/$version"
mkdir -p "$dir"

# One builder per version (parallel test runs, or CI and a developer at once).
exec 9>"$dir/.build.lock"
if ! flock -n 9; then
  log "another build of helm $version is running; waiting for it"
  flock 9
fi

if [[ -x "$dir/helm" ]]; then
  echo "$dir/helm"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "error: 'go' is not on PATH"; exit 1; }
log "building helm $version from $module with $(go version | cut -d' ' -f3) ..."
start=$SECONDS

# The ldflags of Helm's own Makefile: the version `helm version` reports and, for
# Helm 3, the Kubernetes version `helm template` and `helm lint` assume (from the
# client-go it is built with; without it Helm 3 assumes v1.20 and refuses a chart
# that needs more). Helm 4 reads that from its build information itself.
ldflags="-s -w -X $module/internal/version.version=$version -X $module/internal/version.gitTreeState=clean"
if [[ $major == v3 ]]; then
  client_go="$(go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' \
    | xargs awk '$1 == "k8s.io/client-go" { print $2 }')"
  [[ $client_go =~ ^v0\.([0-9]+)\. ]] || { log "error: cannot read k8s.io/client-go's version from $module@$version's go.mod"; exit 1; }
  kube_minor="${BASH_REMATCH[1]}"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X $module/$pkg.k8sVersionMajor=1 -X $module/$pkg.k8sVersionMinor=$kube_minor"
  done
fi

# Into a temporary directory first, so an interrupted build never leaves a
# half-written binary that a later run would take as built.
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
  go install -trimpath -ldflags "$ldflags" "$module/cmd/helm@$version"
mv -f "$tmp/helm" "$dir/helm"
log "built helm $version in $((SECONDS - start))s: $dir/helm"
echo "$dir/helm"
