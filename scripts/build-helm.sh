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

dir="${DP_HELM_CACHE:-$HOME/.cache/digest-pinner/helm}/$version"
source "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"
go_build_cached "$dir" helm "helm $version"
log "building helm $version from $module with $(go version | cut -d' ' -f3) ..."

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

go_build_install "$dir" helm "$ldflags" "$module/cmd/helm@$version" "helm $version"
