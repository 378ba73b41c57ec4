#!/usr/bin/env bash
# Builds the container image with buildah, daemonless, from the Dockerfile, for each
# architecture given (default: amd64 arm64):
#   1. dist/ on the host (`npm run build`: the bundle is the same JavaScript on every architecture);
#   2. per architecture, the base: scripts/image/rootfs.sh's root filesystem as one layer
#      (`buildah from scratch` + add + commit: nothing runs, so arm64 needs no emulation);
#   3. per architecture, the Dockerfile with BASE_IMAGE= that base by digest and DIST=context
#      (its final stage has no RUN);
#   4. an OCI index over the architectures, written as an OCI image layout.
#
#   scripts/image/build.sh [ARCH...]
# Writes out/image/ (or $DP_IMAGE_OUT):
#   oci/                  OCI image layout; tag VERSION (package.json) is the index
#   ARCH/rootfs.tar, ARCH/dpkg-status    the base of each architecture
#   sbom-ARCH.spdx.json   SPDX 2.3: Debian packages, Node, the npm packages of the bundle
#   digest                the index's digest (what scripts/image/push.sh pushes and the chart pins)
# Images and layers are kept in their own containers-storage under $DP_IMAGE_CACHE
# (default ~/.cache/digest-pinner/image), driver $DP_STORAGE_DRIVER (default overlay; vfs
# where overlay cannot mount). SOURCE_DATE_EPOCH (default: the last commit's time) dates
# the images and their files, so the same inputs give the same digests.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
out="${DP_IMAGE_OUT:-$repo/out/image}"
cache="${DP_IMAGE_CACHE:-$HOME/.cache/digest-pinner/image}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}"
version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
revision=$(git -C "$repo" rev-parse HEAD)
storage=(--root "$cache/containers" --runroot "$cache/containers-run" --storage-driver "${DP_STORAGE_DRIVER:-overlay}")
buildah() { command buildah "${storage[@]}" "$@"; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }
# One build at a time per cache: they share the storage, which each build tidies up.
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock -n 9 || { echo "build.sh: another build is using $cache; waiting for it" >&2; flock 9; }

(cd "$repo" && npm run build --silent)
mkdir -p "$out"
images=()
for arch in "${archs[@]}"; do
  bash "$repo/scripts/image/rootfs.sh" "$arch" "$out/$arch"
  # Named by content: an unchanged root filesystem reuses the base already in storage.
  base="localhost/digest-pinner-base:$arch-$(sha256sum "$out/$arch/rootfs.tar" | cut -c1-16)"
  if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    container=$(buildah from scratch)
    buildah add --quiet "$container" "$out/$arch/rootfs.tar" /
    buildah config --os linux --arch "$arch" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
    buildah commit --quiet --rm --timestamp "$SOURCE_DATE_EPOCH" "$container" "$base" >/dev/null
  fi
  base_digest=$(buildah images --format '{{.Digest}}' "$base")
  # Bases of this architecture's earlier root filesystems are not used again.
  for old in $(buildah images --format '{{.Name}}:{{.Tag}}' --filter "reference=localhost/digest-pinner-base:$arch-*"); do
    [ "$old" = "$base" ] || buildah rmi "$old" >/dev/null
  done
  image="localhost/digest-pinner:$version-$arch"
  buildah bud --quiet --platform "linux/$arch" --timestamp "$SOURCE_DATE_EPOCH" \
    --build-arg "BASE_IMAGE=$base@$base_digest" --build-arg DIST=context \
    --label "org.opencontainers.image.version=$version" --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.source=https://github.com/digest-pinner/digest-pinner" \
    --label "org.opencontainers.image.licenses=Apache-2.0" \
    --tag "$image" --file "$repo/Dockerfile" "$repo" >/dev/null
  images+=("$image")
  node "$repo/scripts/image/sbom.mjs" "$arch" "$out/$arch" >"$out/sbom-$arch.spdx.json"
  echo "build.sh: $image ($(buildah images --format '{{.Size}}' "$image") unpacked) from $base@$base_digest, $(elapsed)"
done

index="localhost/digest-pinner:$version"
buildah manifest rm "$index" >/dev/null 2>&1 || true
buildah manifest create "$index" >/dev/null
for image in "${images[@]}"; do buildah manifest add "$index" "containers-storage:$image" >/dev/null; done
rm -rf "$out/oci"
buildah manifest push --quiet --all --format oci --digestfile "$out/digest" "$index" "oci:$out/oci:$version"
# buildah keeps a working container for the Dockerfile's `dist` stage (an alias of another
# stage) and so its image: this storage is build.sh's own, so every container goes.
buildah rm --all >/dev/null
buildah rmi --prune >/dev/null
echo "build.sh: $index ($(cat "$out/digest")) for ${archs[*]} in $out/oci, $(elapsed)"
