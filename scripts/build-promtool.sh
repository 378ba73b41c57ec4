#!/usr/bin/env bash
# Builds promtool, which checks and unit-tests the chart's alerting rules
# (test/metrics/rules.integration.test.ts), from the Go module proxy into a cache
# outside the work tree:
#
#   ${DP_PROMTOOL_CACHE:-$HOME/.cache/digest-pinner/promtool}/<version>/promtool
#
# A binary already built is not rebuilt. Prints its path as the last line of
# stdout; progress goes to stderr. The version is pinned here and nowhere else:
# Prometheus 3.x releases are the Go module's v0.3xx.y (3.16.0 is v0.316.0).
set -euo pipefail

PROMETHEUS_MODULE_VERSION=v0.316.0
PROMETHEUS_VERSION=3.16.0

log() { printf '[promtool build] %s\n' "$*" >&2; }

module=github.com/prometheus/prometheus
cache_root="${DP_PROMTOOL_CACHE:-$HOME/.cache/digest-pinner/promtool}"
dir="$cache_root/$PROMETHEUS_VERSION"
mkdir -p "$dir"

# One builder per version (parallel test runs, or CI and a developer at once).
exec 9>"$dir/.build.lock"
if ! flock -n 9; then
  log "another build of promtool $PROMETHEUS_VERSION is running; waiting for it"
  flock 9
fi

if [[ -x "$dir/promtool" ]]; then
  echo "$dir/promtool"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "error: 'go' is not on PATH"; exit 1; }
log "building promtool $PROMETHEUS_VERSION from $module@$PROMETHEUS_MODULE_VERSION with $(go version | cut -d' ' -f3) ..."
start=$SECONDS

# The version `promtool --version` reports, as Prometheus's own build sets it.
ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"

# Into a temporary directory first, so an interrupted build never leaves a
# half-written binary that a later run would take as built.
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
  go install -trimpath -ldflags "$ldflags" "$module/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
mv -f "$tmp/promtool" "$dir/promtool"
log "built promtool $PROMETHEUS_VERSION in $((SECONDS - start))s: $dir/promtool"
echo "$dir/promtool"
