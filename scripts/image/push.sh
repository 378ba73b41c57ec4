#!/usr/bin/env bash
# Pushes what scripts/image/build.sh made — the OCI index and each architecture's image, byte
# for byte, so the registry serves the digest build.sh wrote to out/image/digest — to DEST.
# The release pushes with it, and the container test (test/image/) pushes to its registry with it.
#
#   scripts/image/push.sh docker://REGISTRY/REPOSITORY:TAG [skopeo copy flags, e.g. --dest-creds U:P --dest-cert-dir DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${DP_IMAGE_OUT:-$repo/out/image}"
dest="${1:-}"
if [[ "$dest" != docker://* ]]; then
  echo "usage: scripts/image/push.sh docker://REGISTRY/REPOSITORY:TAG [skopeo copy flags]" >&2
  exit 2
fi
shift
version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
[ -f "$out/digest" ] || { echo "no image in $out: run scripts/image/build.sh first" >&2; exit 1; }
pushed="$(mktemp)"
trap 'rm -f "$pushed"' EXIT
skopeo copy --quiet --all --preserve-digests --digestfile "$pushed" "$@" "oci:$out/oci:$version" "$dest"
if [ "$(cat "$pushed")" != "$(cat "$out/digest")" ]; then
  echo "$dest received $(cat "$pushed"), not the $(cat "$out/digest") build.sh made" >&2
  exit 1
fi
echo "push.sh: $dest@$(cat "$pushed")"
