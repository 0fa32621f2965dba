#!/usr/bin/env bash
# Build the systemd test images (Ubuntu 24.04, Debian 12, Debian 13) locally with debootstrap
# and import them into podman as localhost/pp-<name>:latest. Cached: an image that exists is
# not rebuilt (FORCE=1 rebuilds). No registry host name is written here: Debian mirrors come
# from this machine's apt configuration, Ubuntu's from debootstrap's own script default.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PP_IMAGE_CACHE:-/var/cache/parametric-portal-images}
mkdir -p "$CACHE"

# ubuntu-keyring .deb from the Ubuntu archive, pinned by sha256 (Debian 12 does not ship it).
UBUNTU_KEYRING_DEB=ubuntu-keyring_2023.11.28.1_all.deb
UBUNTU_KEYRING_SHA256=36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8
INCLUDE=systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,iproute2,ca-certificates,sudo,procps,kmod,cron,locales

debian_mirror() {  # $1 = "main" or "security": the URI from this machine's apt sources
  local f=/etc/apt/sources.list.d/debian.sources
  if [ "$1" = security ]; then
    awk '/^URIs:/ && /security/ {print $2; exit}' "$f"
  else
    awk '/^URIs:/ && !/security/ {print $2; exit}' "$f"
  fi
}

ubuntu_mirror() {
  local arch; arch=$(dpkg --print-architecture)
  if [ "$arch" = amd64 ]; then
    awk '/default_mirror/ {print $2}' /usr/share/debootstrap/scripts/gutsy | grep -v old-releases | head -1
  else
    awk '/default_mirror/ {print $2}' /usr/share/debootstrap/scripts/gutsy | grep ports | head -1
  fi
}

prepare_rootfs() {  # $1 = rootfs dir
  local d=$1
  # No kernel modules or first-boot wizard in a container: otherwise systemd is "degraded".
  for unit in systemd-modules-load.service systemd-firstboot.service; do
    ln -sf /dev/null "$d/etc/systemd/system/$unit"
  done
  : > "$d/etc/machine-id"
  rm -f "$d/var/lib/dbus/machine-id"
  # Empty apt lists with an old mtime so that cache_valid_time triggers a real update.
  rm -rf "$d"/var/lib/apt/lists/* "$d"/var/cache/apt/*.bin
  mkdir -p "$d/var/lib/apt/lists/partial"
  touch -d @0 "$d/var/lib/apt/lists"
  echo "en_US.UTF-8 UTF-8" > "$d/etc/locale.gen"
  chroot "$d" locale-gen >/dev/null 2>&1 || true
}

import_rootfs() {  # $1 = rootfs dir, $2 = image name
  tar -C "$1" -c . | podman import --change 'CMD ["/sbin/init"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' - "localhost/$2:latest" >/dev/null
}

build() {  # $1 = image name, $2 = suite
  local name=$1 suite=$2 d
  if podman image exists "localhost/$name:latest" && [ "${FORCE:-0}" != 1 ]; then
    echo "images: $name cached"; return 0
  fi
  d=$(mktemp -d "$CACHE/$name.XXXX")
  local start=$SECONDS
  case $suite in
    noble)
      local kr="$CACHE/$UBUNTU_KEYRING_DEB" m; m=$(ubuntu_mirror)
      if ! echo "$UBUNTU_KEYRING_SHA256  $kr" | sha256sum -c --quiet >/dev/null 2>&1; then
        curl -fsS -m 120 -o "$kr" "$m/pool/main/u/ubuntu-keyring/$UBUNTU_KEYRING_DEB"
        echo "$UBUNTU_KEYRING_SHA256  $kr" | sha256sum -c --quiet
      fi
      local krdir; krdir=$(mktemp -d); dpkg-deb -x "$kr" "$krdir"
      debootstrap --variant=minbase --components=main,universe --include="$INCLUDE" \
        --keyring="$krdir/usr/share/keyrings/ubuntu-archive-keyring.gpg" noble "$d" "$m" \
        gutsy >"$d.log" 2>&1 || { tail -20 "$d.log"; return 1; }
      rm -rf "$krdir"
      printf 'deb %s noble main universe\ndeb %s noble-updates main universe\ndeb %s noble-security main universe\n' \
        "$m" "$m" "$m" > "$d/etc/apt/sources.list"
      ;;
    *)
      local m s; m=$(debian_mirror main); s=$(debian_mirror security)
      debootstrap --variant=minbase --include="$INCLUDE" "$suite" "$d" "$m" >"$d.log" 2>&1 \
        || { tail -20 "$d.log"; return 1; }
      printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$m" "$suite" "$m" "$suite" "$s" "$suite" > "$d/etc/apt/sources.list"
      ;;
  esac
  prepare_rootfs "$d"
  import_rootfs "$d" "$name"
  rm -rf "$d" "$d.log"
  echo "images: $name built in $((SECONDS - start)) s"
}

only=${1:-all}
for spec in pp-ubuntu2404:noble pp-debian12:bookworm pp-debian13:trixie; do
  name=${spec%%:*}; suite=${spec#*:}
  [ "$only" = all ] || [ "$only" = "$name" ] || continue
  build "$name" "$suite"
done
