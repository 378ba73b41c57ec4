#!/usr/bin/env bash
# The release's steps, as .github/workflows/release.yml runs them; each is a script CI runs
# too, so nothing is shipped that CI never built and ran.
#
#   scripts/image/release.sh build
#       scripts/image/build.sh amd64 arm64, then npm run test:image: the image pushed to a
#       throwaway registry and run as a restricted pod runs it (this machine's architecture;
#       the workflow runs the test again on an arm64 runner). Leaves out/image/.
#   scripts/image/release.sh publish [skopeo copy flags, e.g. --dest-authfile FILE]
#       out/image/ to the chart's image.repository, tagged with package.json's version, byte
#       for byte (scripts/image/push.sh); that digest into the chart's image.digest
#       (scripts/image/set-digest.mjs); manifests/ rendered from the chart
#       (scripts/render-manifests.sh, when the chart has it).
#
# DP_RELEASE_REPOSITORY replaces the chart's image.repository, to rehearse against a registry
# of one's own (with --dest-cert-dir or --dest-tls-verify=false as it needs).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
values=charts/digest-pinner/values.yaml
chart=charts/digest-pinner/Chart.yaml
out="${DP_IMAGE_OUT:-$repo/out/image}"
version=$(node -p 'require("./package.json").version')
fail() { echo "release.sh: $*" >&2; exit 1; }
# yaml_field FILE KEY...: the value at KEY... (empty when absent).
yaml_field() {
  node --input-type=module -e 'import { parse } from "yaml"; import { readFileSync } from "node:fs";
    const [file, ...path] = process.argv.slice(1);
    console.log(path.reduce((node, key) => node?.[key], parse(readFileSync(file, "utf8"))) ?? "");' "$@"
}

build() {
  bash scripts/image/build.sh amd64 arm64
  npm run test:image
}

publish() {
  if [ ! -f "$values" ] || [ ! -f "$chart" ]; then fail "no chart ($chart, $values) to pin the image in"; fi
  local app_version repository digest
  app_version=$(yaml_field "$chart" appVersion)
  [ "$app_version" = "$version" ] || fail "$chart has appVersion ${app_version:-(none)} and package.json $version: the chart would name an image this release does not push"
  repository="${DP_RELEASE_REPOSITORY:-$(yaml_field "$values" image repository)}"
  [ -n "$repository" ] || fail "$values has no image.repository"
  bash scripts/image/push.sh "docker://$repository:$version" "$@"
  digest=$(cat "$out/digest")
  node scripts/image/set-digest.mjs "$values" "$digest"
  if [ -f scripts/render-manifests.sh ]; then
    bash scripts/render-manifests.sh
  else
    echo "release.sh: no scripts/render-manifests.sh, so manifests/ is not rendered from the chart" >&2
  fi
  echo "release.sh: $repository:$version@$digest pushed; $values names it"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  publish) shift; publish "$@" ;;
  *) echo "usage: scripts/image/release.sh build | publish [skopeo copy flags]" >&2; exit 2 ;;
esac
