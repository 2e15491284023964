#!/usr/bin/env bash
# Builds the test environment's binaries from published Go modules into a cache outside the repo:
#   build.sh [cluster]  the control plane (kube-apiserver, controller-manager, scheduler, etcd, kwok)
#   build.sh helm       helm, for the chart tests
#   build.sh peer       remotedialer-peer, the bench's peer on Rancher's tunnel library
# Each cache key covers that target's go.mod/go.sum/Go files and the Go version, so a build runs again
# only when a version changes. Prints the binary directory on its last line of stdout.
set -euo pipefail
target=${1:-cluster}

here=$(cd "$(dirname "$0")" && pwd)
mods="$here/go"
command -v go >/dev/null || { echo "testenv: Go (>= 1.24) is needed to build the test control plane" >&2; exit 1; }

# The version of a module as go.mod requires it, whether on a `require x v` line or inside a block.
required() { awk -v m="$2" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"; }
go_ver=$(go env GOVERSION)
# The key of a target: the Go version, then its modules' go.mod, go.sum and Go files, in that order.
key() { # module dirs...
  local files=()
  for d in "$@"; do files+=("$mods/$d/go.mod"); done
  for d in "$@"; do files+=("$mods/$d/go.sum"); done
  for d in "$@"; do files+=("$mods/$d"/*.go); done
  cat "${files[@]}" | { echo "$go_ver"; cat; } | sha256sum | cut -c1-10
}
cache_root=${ZTKA_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ztka/testenv}
case "$target" in
  cluster)
    kube_ver=$(required "$mods/kube/go.mod" k8s.io/kubernetes)
    etcd_ver=$(required "$mods/etcd/go.mod" go.etcd.io/etcd/server/v3)
    kwok_ver=$(required "$mods/kwok/go.mod" sigs.k8s.io/kwok)
    out="$cache_root/kube-${kube_ver}_etcd-${etcd_ver}_kwok-${kwok_ver}_$(key etcd kube kwok)"
    bins=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
    estimate="10-20 minutes"
    assets=(crds/kwok.x-k8s.io_execs.yaml crds/kwok.x-k8s.io_logs.yaml crds/kwok.x-k8s.io_attaches.yaml
      crds/kwok.x-k8s.io_portforwards.yaml stages/node-initialize.yaml stages/node-heartbeat-with-lease.yaml
      stages/pod-ready.yaml stages/pod-complete.yaml stages/pod-delete.yaml)
    ;;
  helm)
    helm_ver=$(required "$mods/helm/go.mod" helm.sh/helm/v3)
    out="$cache_root/helm-${helm_ver}_$(key helm)"
    bins=(helm)
    estimate="a few minutes"
    assets=()
    ;;
  peer)
    rd_ver=$(required "$mods/remotedialer/go.mod" github.com/rancher/remotedialer)
    out="$cache_root/remotedialer-${rd_ver}_$(key remotedialer)"
    bins=(remotedialer-peer)
    estimate="a minute"
    assets=()
    ;;
  *) echo "testenv: build.sh [cluster|helm|peer], not $target" >&2; exit 2 ;;
esac

complete() {
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 1; done
  for f in "${assets[@]}"; do [ -f "$out/kwok-assets/$f" ] || return 1; done
}

# kwok's CRDs and its published node/pod lifecycle stages, taken from the kwok module that was built, so the
# environment's kwok runs with configuration of its own release.
copy_kwok_assets() { # target dir
  local src
  src=$(cd "$mods/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  rm -rf "$1/kwok-assets" && mkdir -p "$1/kwok-assets/crds" "$1/kwok-assets/stages"
  for kind in execs logs attaches portforwards; do
    cp "$src/kustomize/crd/bases/kwok.x-k8s.io_$kind.yaml" "$1/kwok-assets/crds/"
  done
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" "$1/kwok-assets/stages/"
  # Without the heartbeat, the controller-manager marks the nodes NotReady after a few minutes.
  cp "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$1/kwok-assets/stages/"
  cp "$src"/kustomize/stage/pod/fast/pod-*.yaml "$1/kwok-assets/stages/"
  chmod -R u+w "$1/kwok-assets"
}
if complete; then echo "$out"; exit 0; fi
# Binaries from an earlier build of this script that lack only the assets: add them, build nothing.
if [ "$target" = cluster ] && [ -x "$out/kube-apiserver" ] && [ -x "$out/kwok" ] && [ -x "$out/etcd" ]; then
  copy_kwok_assets "$out"
  if complete; then echo "$out"; exit 0; fi
fi

mkdir -p "$cache_root"
# One build at a time: a second caller waits for the first instead of competing for the 2 cores.
exec 9>"$cache_root/.build.lock"
if ! flock -n 9; then
  echo "testenv: another build is running; waiting for it" >&2
  flock 9
  if complete; then echo "$out"; exit 0; fi
fi

export GOFLAGS=-buildvcs=false CGO_ENABLED=0
tmp="$out.partial"
rm -rf "$tmp" && mkdir -p "$tmp"
start=$(date +%s)

# go build -v names each package as it compiles it; turn that into a periodic progress line.
progress() {
  local what=$1 n=0
  while IFS= read -r line; do
    case "$line" in
      *.go:*|"# "*|"go: "*) echo "$line" >&2 ;;
      *) n=$((n + 1)); if [ $((n % 100)) -eq 0 ]; then
           echo "testenv: $what: $n packages compiled ($(( $(date +%s) - start ))s)" >&2; fi ;;
    esac
  done
  echo "testenv: $what: done, $n packages ($(( $(date +%s) - start ))s)" >&2
}

build() { # name, module dir, ldflags, packages...
  local what=$1 dir=$2 ldflags=$3; shift 3
  echo "testenv: building $what (the first build takes $estimate on 2 cores)" >&2
  ( cd "$dir" && go build -v -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "$@" 2>&1 ) | progress "$what"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "testenv: building $what failed" >&2; exit 1; }
}

if [ "$target" = peer ]; then
  ( cd "$mods/remotedialer" && go build -trimpath -ldflags "-s -w" -o "$tmp/remotedialer-peer" . ) ||
    { echo "testenv: building remotedialer-peer failed" >&2; exit 1; }
elif [ "$target" = helm ]; then
  # As helm's Makefile stamps it: its version, and the Kubernetes version of the client-go it was built
  # with, which `helm template` and `helm lint` assume when no cluster is asked.
  client_go=$(required "$mods/helm/go.mod" k8s.io/client-go) # v0.<minor>.<patch>
  kminor=$(echo "$client_go" | cut -d. -f2)
  hv=helm.sh/helm/v3
  build "helm $helm_ver" "$mods/helm" \
    "-X $hv/internal/version.version=$helm_ver -X $hv/internal/version.gitTreeState=clean -X $hv/pkg/lint/rules.k8sVersionMajor=1 -X $hv/pkg/lint/rules.k8sVersionMinor=$kminor -X $hv/pkg/chartutil.k8sVersionMajor=1 -X $hv/pkg/chartutil.k8sVersionMinor=$kminor" \
    helm.sh/helm/v3/cmd/helm
else
  minor=$(echo "$kube_ver" | cut -d. -f2)
  vpkg=k8s.io/component-base/version
  build "etcd $etcd_ver" "$mods/etcd" "" .
  build "kwok $kwok_ver" "$mods/kwok" "" sigs.k8s.io/kwok/cmd/kwok
  build "kubernetes $kube_ver" "$mods/kube" \
    "-X $vpkg.gitVersion=$kube_ver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  copy_kwok_assets "$tmp"
fi

rm -rf "$out" && mv "$tmp" "$out"
complete || { echo "testenv: build finished but binaries are missing in $out" >&2; exit 1; }
echo "testenv: binaries ready in $out ($(( $(date +%s) - start ))s)" >&2
echo "$out"
