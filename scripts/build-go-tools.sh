#!/usr/bin/env bash
# Build the upstream Kubernetes tools the control-plane tests use, from Go modules (never a prebuilt
# download), into a cache outside the checkout keyed by tool and version:
#   ${PP_GO_TOOLS_CACHE:-/var/cache/parametric-portal-go}/<tool>-<version>/
# A tool whose cache directory holds a stamp matching its inputs (wrapper go.mod/go.sum, Go version,
# build flags) is skipped, so a warm machine pays only for the check. Go's own build and module caches
# (GOCACHE, GOMODCACHE) stay at their defaults and are reused across runs as well.
#
#   bash scripts/build-go-tools.sh            # build what is missing, print one line per tool
#   bash scripts/build-go-tools.sh --print-env  # also print PP_*_BIN=... lines for the tests
#   bash scripts/build-go-tools.sh --paths      # only print those lines (builds nothing; the tests use it)
#
# Tools (versions are upstream facts; change them together with the wrapper modules in tools/go/):
#   kube      kube-apiserver, kube-controller-manager v1.32.11 (tools/go/kube: the Kubernetes of
#             K3s v1.32.11+k3s1; the staging modules map to v0.32.11, except k8s.io/kms and
#             k8s.io/csi-translation-lib, which the module proxy here does not serve at v0.32.11 and
#             which map to v0.32.10 - their Go sources are identical from v0.32.10 to v0.32.12)
#   etcd      etcd server v3.5.24 (tools/go/etcd): the etcd Kubernetes v1.32.11 runs its own tests on
#   sealed-secrets  controller and kubeseal v0.28.0 (the app version of chart 2.17.1), with the
#             module's own go.sum (go install MODULE/cmd/...@VERSION)
#   kustomize v5.5.0 (the spec pins Kustomize v5.5), go install as upstream documents it
#   PP_GO_TOOLS="kube etcd" limits the run to those tools (default: all).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PP_GO_TOOLS_CACHE:-/var/cache/parametric-portal-go}"
PRINT_ENV=false
PATHS_ONLY=false
case "${1:-}" in
    --print-env) PRINT_ENV=true ;;
    --paths) PRINT_ENV=true; PATHS_ONLY=true ;;
    "") ;;
    *) echo "usage: $0 [--print-env|--paths]" >&2; exit 2 ;;
esac

KUBE_VERSION=v1.32.11
# Commit of the v1.32.11 tag (the module proxy's origin record for k8s.io/kubernetes@v1.32.11).
KUBE_GIT_COMMIT=2195eae9e91f2e72114365d9bb9c670d0c08de12
KUBE_BUILD_DATE=2025-12-16T17:59:23Z
ETCD_VERSION=v3.5.24
SEALED_SECRETS_VERSION=v0.28.0
KUSTOMIZE_VERSION=v5.5.0

print_env() {
    echo "PP_KUBE_APISERVER_BIN=$CACHE/kube-$KUBE_VERSION/kube-apiserver"
    echo "PP_KUBE_CONTROLLER_MANAGER_BIN=$CACHE/kube-$KUBE_VERSION/kube-controller-manager"
    echo "PP_ETCD_BIN=$CACHE/etcd-$ETCD_VERSION/etcd"
    echo "PP_SEALED_SECRETS_CONTROLLER_BIN=$CACHE/sealed-secrets-$SEALED_SECRETS_VERSION/sealed-secrets-controller"
    echo "PP_KUBESEAL_BIN=$CACHE/sealed-secrets-$SEALED_SECRETS_VERSION/kubeseal"
    echo "PP_KUSTOMIZE_BIN=$CACHE/kustomize-$KUSTOMIZE_VERSION/kustomize"
}
if $PATHS_ONLY; then print_env; exit 0; fi

command -v go >/dev/null || { echo "build-go-tools: go is not installed (Go 1.23 or newer is needed)" >&2; exit 1; }
mkdir -p "$CACHE"
GO_VERSION="$(go env GOVERSION)"

log() { printf 'build-go-tools: %s\n' "$*" >&2; }

# stamp_of DIR EXTRA...: hash of a wrapper module's go.mod/go.sum, the Go version and extra inputs.
stamp_of() {
    local dir="$1"; shift
    { cat "$dir/go.mod" "$dir/go.sum"; echo "$GO_VERSION"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16
}

# lock_or_cached NAME VERSION STAMP: 0 = caller must build (lock held on fd 9), 1 = cached.
lock_or_cached() {
    local dest="$CACHE/$1-$2"
    if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$3" ]; then
        log "$1 $2: cached in $dest"; return 1
    fi
    exec 9>"$CACHE/.$1-$2.lock"
    flock 9
    if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$3" ]; then
        log "$1 $2: cached in $dest (built by a concurrent run)"; exec 9>&-; return 1
    fi
    # With the lock held, temporary directories of this tool are leftovers of an interrupted build.
    rm -rf "$CACHE/.$1-$2."??????
    return 0
}

# finish NAME VERSION TMPDIR STAMP START: move a finished build into place atomically.
finish() {
    local dest="$CACHE/$1-$2"
    echo "$4" > "$3/.stamp"
    chmod 0755 "$3"
    rm -rf "$dest"
    mv "$3" "$dest"
    exec 9>&-
    log "$1 $2: built in $(( $(date +%s) - $5 )) s into $dest"
}

# build_tool NAME VERSION MODDIR STAMP "out1=pkg1 [out2=pkg2...]" [CGO] [LDFLAGS] [TAGS]
build_tool() {
    local name="$1" version="$2" moddir="$3" stamp="$4" targets="$5" cgo="${6:-0}" ldflags="${7:-}" tags="${8:-}"
    lock_or_cached "$name" "$version" "$stamp" || return 0
    local tmp start t out pkg
    tmp="$(mktemp -d "$CACHE/.$name-$version.XXXXXX")"
    start=$(date +%s)
    for t in $targets; do
        out="${t%%=*}"; pkg="${t#*=}"
        log "$name $version: go build $pkg (the first build on a cold Go cache takes minutes)"
        (cd "$moddir" && CGO_ENABLED="$cgo" GOFLAGS=-mod=readonly go build -trimpath \
            ${tags:+-tags "$tags"} -ldflags "-s -w $ldflags" -o "$tmp/$out" "$pkg")
    done
    finish "$name" "$version" "$tmp" "$stamp" "$start"
}

# install_tool NAME VERSION "out1=module/pkg1 ..." [LDFLAGS]: go install PKG@VERSION, i.e. with the
# upstream module's own go.mod/go.sum (for modules without replace directives).
install_tool() {
    local name="$1" version="$2" targets="$3" ldflags="${4:-}"
    local stamp
    stamp="$(printf '%s\n' "$version" "$GO_VERSION" "$targets" "$ldflags" | sha256sum | cut -c1-16)"
    lock_or_cached "$name" "$version" "$stamp" || return 0
    local tmp start t out pkg bin
    tmp="$(mktemp -d "$CACHE/.$name-$version.XXXXXX")"
    start=$(date +%s)
    for t in $targets; do
        out="${t%%=*}"; pkg="${t#*=}"
        log "$name $version: go install $pkg@$version"
        mkdir -p "$tmp/.gobin"
        (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp/.gobin" GOFLAGS= go install -trimpath \
            -ldflags "-s -w $ldflags" "$pkg@$version")
        bin="$(ls "$tmp/.gobin")"
        mv "$tmp/.gobin/$bin" "$tmp/$out"
        rmdir "$tmp/.gobin"
    done
    finish "$name" "$version" "$tmp" "$stamp" "$start"
}

want() { [ -z "${PP_GO_TOOLS:-}" ] || [[ " $PP_GO_TOOLS " == *" $1 "* ]]; }

# --- Kubernetes control plane -------------------------------------------------------------------
KUBE_MOD="$ROOT/tools/go/kube"
kube_ld=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=32"
    kube_ld+=" -X $p.gitCommit=$KUBE_GIT_COMMIT -X $p.gitTreeState=clean -X $p.buildDate=$KUBE_BUILD_DATE"
done
want kube && build_tool kube "$KUBE_VERSION" "$KUBE_MOD" "$(stamp_of "$KUBE_MOD" "$kube_ld")" \
    "kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager" \
    0 "$kube_ld"

# --- etcd ----------------------------------------------------------------------------------------
ETCD_MOD="$ROOT/tools/go/etcd"
etcd_ld="-X go.etcd.io/etcd/api/v3/version.GitSHA=v3.5.24"
want etcd && build_tool etcd "$ETCD_VERSION" "$ETCD_MOD" "$(stamp_of "$ETCD_MOD" "$etcd_ld")" \
    "etcd=go.etcd.io/etcd/server/v3" 0 "$etcd_ld"

# --- sealed-secrets controller and kubeseal ---------------------------------------------------------
want sealed-secrets && install_tool sealed-secrets "$SEALED_SECRETS_VERSION" \
    "sealed-secrets-controller=github.com/bitnami-labs/sealed-secrets/cmd/controller kubeseal=github.com/bitnami-labs/sealed-secrets/cmd/kubeseal" \
    "-X main.VERSION=$SEALED_SECRETS_VERSION"

# --- kustomize ----------------------------------------------------------------------------------------
# The release builds set the version by ldflags; without it `kustomize version` says "(devel)".
want kustomize && install_tool kustomize "$KUSTOMIZE_VERSION" "kustomize=sigs.k8s.io/kustomize/kustomize/v5" \
    "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$KUSTOMIZE_VERSION"

if $PRINT_ENV; then print_env; fi
