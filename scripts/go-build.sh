# Sourced by build-helm.sh and build-promtool.sh: the steps every Go program built from
# the Go module proxy into the cache outside the work tree shares. Each script defines
# log() (its progress, on stderr) before calling these.

# Takes DIR's build lock (one builder per version: parallel test runs, or CI and a
# developer at once); when DIR/BINARY is built already, prints its path and exits 0.
#   go_build_cached DIR BINARY WHAT
go_build_cached() {
  local dir=$1 binary=$2 what=$3
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"
  if ! flock -n 9; then
    log "another build of $what is running; waiting for it"
    flock 9
  fi
  if [[ -x "$dir/$binary" ]]; then
    echo "$dir/$binary"
    exit 0
  fi
  command -v go >/dev/null 2>&1 || { log "error: 'go' is not on PATH"; exit 1; }
}

# Builds PACKAGE@VERSION into DIR/BINARY, statically and reproducibly, and prints its
# path; through a temporary directory, so an interrupted build never leaves a
# half-written binary that a later run would take as built.
#   go_build_install DIR BINARY LDFLAGS PACKAGE@VERSION WHAT
go_build_install() {
  local dir=$1 binary=$2 ldflags=$3 package=$4 what=$5
  local start=$SECONDS
  go_build_tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  trap 'rm -rf "$go_build_tmp"' EXIT
  GOBIN="$go_build_tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags "$ldflags" "$package"
  mv -f "$go_build_tmp/$binary" "$dir/$binary"
  log "built $what in $((SECONDS - start))s: $dir/$binary"
  echo "$dir/$binary"
}
