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
dir="${DP_PROMTOOL_CACHE:-$HOME/.cache/digest-pinner/promtool}/$PROMETHEUS_VERSION"
source "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"
go_build_cached "$dir" promtool "promtool $PROMETHEUS_VERSION"
log "building promtool $PROMETHEUS_VERSION from $module@$PROMETHEUS_MODULE_VERSION with $(go version | cut -d' ' -f3) ..."

# The version `promtool --version` reports, as Prometheus's own build sets it.
ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
go_build_install "$dir" promtool "$ldflags" "$module/cmd/promtool@$PROMETHEUS_MODULE_VERSION" "promtool $PROMETHEUS_VERSION"
