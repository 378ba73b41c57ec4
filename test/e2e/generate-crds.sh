#!/usr/bin/env bash
# Generates the CRDs of the kinds charts/digest-pinner can render but the e2e
# cluster does not know — cert-manager's Certificate and Issuer,
# prometheus-operator's ServiceMonitor and PrometheusRule — and, in reports/,
# those `digest-pinner audit --policy-reports` writes — PolicyReport
# (wgpolicyk8s.io/v1alpha2, from Kyverno's copy of the API: the policy working
# group's own module is not served by the Go module proxy) and Report
# (openreports.io/v1alpha1) — from those projects' Go API modules with
# controller-gen (all from the Go module proxy), so the e2e tests can install
# those objects and have kube-apiserver validate them. Into a cache outside the
# work tree:
#
#   ${DP_CRD_CACHE:-$HOME/.cache/digest-pinner/crds}/<name-versions>/*.yaml, reports/*.yaml
#
# Generated once; prints that directory as the last line of stdout, progress on stderr.
set -euo pipefail

CONTROLLER_TOOLS_VERSION=v0.23.0
CERT_MANAGER_VERSION=v1.21.2
PROMETHEUS_OPERATOR_VERSION=v0.95.2
CERT_MANAGER_API=github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1
MONITORING_API=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1
KYVERNO_VERSION=v1.13.4
OPENREPORTS_VERSION=v0.2.1
POLICY_REPORT_API=github.com/kyverno/kyverno/api/policyreport/v1alpha2
OPENREPORTS_API=github.com/openreports/reports-api/apis/openreports.io/v1alpha1
# The CRDs the chart's objects need, of all that the two packages define.
WANTED=(cert-manager.io_certificates.yaml cert-manager.io_issuers.yaml
  monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
# The report kinds audit writes (namespaced), kept apart so that applying the directory does not install them.
WANTED_REPORTS=(wgpolicyk8s.io_policyreports.yaml openreports.io_reports.yaml)

log() { printf '[crd generate] %s\n' "$*" >&2; }

cache_root="${DP_CRD_CACHE:-$HOME/.cache/digest-pinner/crds}"
dir="$cache_root/cert-manager-$CERT_MANAGER_VERSION-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION-kyverno-$KYVERNO_VERSION-openreports-$OPENREPORTS_VERSION"
mkdir -p "$cache_root"

exec 9>"$cache_root/.generate.lock"
if ! flock -n 9; then
  log "another generation is running; waiting for it"
  flock 9
fi

if [[ -d $dir ]]; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "error: 'go' is not on PATH"; exit 1; }
start=$SECONDS
controller_gen="$cache_root/controller-gen-$CONTROLLER_TOOLS_VERSION/controller-gen"
if [[ ! -x $controller_gen ]]; then
  log "building controller-gen $CONTROLLER_TOOLS_VERSION ..."
  GOBIN="$(dirname "$controller_gen")" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
fi

# A throwaway module that requires the API packages at the pinned versions;
# written in full into a temporary directory and moved into place at the end.
tmp="$(mktemp -d "$cache_root/.generate.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/module" "$tmp/crds/reports"
(
  cd "$tmp/module"
  go mod init crd-generate >/dev/null 2>&1
  go get "$CERT_MANAGER_API@$CERT_MANAGER_VERSION" "$MONITORING_API@$PROMETHEUS_OPERATOR_VERSION" \
    "$POLICY_REPORT_API@$KYVERNO_VERSION" "$OPENREPORTS_API@$OPENREPORTS_VERSION" >&2
  "$controller_gen" crd:crdVersions=v1 "paths=$CERT_MANAGER_API" "paths=$MONITORING_API" \
    "paths=$POLICY_REPORT_API" "paths=$OPENREPORTS_API" output:crd:dir="$tmp/all"
)
for name in "${WANTED[@]}"; do mv "$tmp/all/$name" "$tmp/crds/$name"; done
for name in "${WANTED_REPORTS[@]}"; do mv "$tmp/all/$name" "$tmp/crds/reports/$name"; done
mv "$tmp/crds" "$dir"
log "generated ${WANTED[*]} ${WANTED_REPORTS[*]} in $((SECONDS - start))s into $dir"
echo "$dir"
