#!/usr/bin/env bash
# Build the Ubuntu 24.04 VM image for the `vm` test stage (tests/vm/) from the systemd test image
# localhost/pp-ubuntu2404:latest (scripts/build-test-images.sh), with the kernel, initrd and
# everything else from the Ubuntu archive. Nothing prebuilt is downloaded.
#
#   scripts/build-vm-image.sh            build (or reuse) the image; the last line printed is its directory
#
# The directory holds: disk.qcow2 (the root filesystem, ext4, labelled cloudimg-rootfs), vmlinuz,
# initrd.img, kernel-version, packages.txt. Tests never write to disk.qcow2: each run boots a
# copy-on-write overlay (qcow2 with disk.qcow2 as its backing file).
#
# First boot works like a cloud image's (cloud-init's NoCloud data source): a small seed disk
# labelled "ppseed" carries the host name, the admin user with its SSH public key and the
# networkd files of extra NICs; the unit pp-firstboot.service reads it once, creates the user
# (sudo group, passwordless sudo as cloud-init writes it), generates the SSH host keys and sets the
# host name. The image itself holds no user, no key and no host key.
#
# Cached outside the checkout in $PP_VM_CACHE (/var/cache/parametric-portal-vm/<key>/), the key
# being the hash of this script and the ID of the test image it starts from: a new test image or a
# change here builds a new one. FORCE=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PP_VM_CACHE:-/var/cache/parametric-portal-vm}
BASE_IMAGE=localhost/pp-ubuntu2404:latest
# What the image has on top of the test image. Like a stock Ubuntu 24.04 server/cloud image: the
# kernel and initrd (linux-image-virtual; zstd so that initramfs-tools compresses as on Ubuntu),
# systemd-resolved for DNS from DHCP, and from the ubuntu-minimal / -standard / -server-minimal
# seeds rsyslog, logrotate, nftables (installed, no ruleset loaded), systemd-timesyncd and
# unattended-upgrades. Beyond a stock image: auditd, fail2ban and python3-systemd, which the
# hardening role would install - preinstalled (not started, no rules) because installing them
# under software emulation costs minutes of the stage's budget; the role's package task still runs
# and finds them. lynis: the auditing tool the test runs inside the VM (from the archive, like the
# rest), installed here for the same reason. Deliberately NOT preinstalled although a stock image has it: apparmor, so that
# the role's install-and-start path runs on the real kernel and the AppArmor check is seen failing
# before the converge.
VM_PACKAGES="linux-image-virtual initramfs-tools zstd systemd-resolved rsyslog logrotate nftables
  systemd-timesyncd unattended-upgrades auditd fail2ban python3-systemd lynis"
DISK_SIZE=12G

die() { echo "build-vm-image: $*" >&2; exit 1; }
for tool in podman mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/bootstrap-host.sh installs it)"
done
[ "$(id -u)" = 0 ] || die "must run as root (the root filesystem keeps its owners)"
podman image exists "$BASE_IMAGE" || bash scripts/build-test-images.sh pp-ubuntu2404 >&2
image_id=$(podman image inspect -f '{{.Id}}' "$BASE_IMAGE")
key=$( { sha256sum "$0" | cut -d' ' -f1; echo "$image_id"; } | sha256sum | cut -c1-16)
out="$CACHE/$key"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # one build at a time; a second caller waits and then finds the cached image
if [ -f "$out/done" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "build-vm-image: cached ($(cat "$out/kernel-version"))" >&2
  echo "$out"; exit 0
fi

start=$SECONDS
work=$(mktemp -d "$CACHE/build.XXXX")
ctr="pp-vm-imagebuild-$$"
cleanup() { podman rm -f "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# 1. The kernel, initrd and boot packages, installed from the archive inside the test image.
echo "build-vm-image: installing $(echo $VM_PACKAGES) into $BASE_IMAGE" >&2
podman run --name "$ctr" "$BASE_IMAGE" bash -ec "
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo $VM_PACKAGES) >/dev/null
  dpkg-query -W -f='\${Package} \${Version}\n' > /root/packages.txt
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; die "package install failed"; }

# 2. The root filesystem, as files.
root="$work/root"
mkdir -p "$root"
podman export "$ctr" | tar -C "$root" --numeric-owner -xpf -
kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)
[ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] || die "no kernel found in the image"

# 3. Turn the container root filesystem into a VM's.
# A VM has kernel modules (the test image masks systemd-modules-load for containers). The
# interactive systemd-firstboot stays masked: pp-firstboot.service does the first boot.
rm -f "$root/etc/systemd/system/systemd-modules-load.service"
cat > "$root/etc/fstab" <<'EOF'
# <file system>          <mount point> <type> <options>                  <dump> <pass>
LABEL=cloudimg-rootfs    /             ext4   discard,errors=remount-ro  0      1
EOF
echo ubuntu > "$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
: > "$root/etc/machine-id"            # a new machine-id on each VM's first boot
touch -d @0 "$root/var/lib/apt/lists"  # empty lists, old: the first apt run with cache_valid_time updates
rm -f "$root"/etc/ssh/ssh_host_*      # host keys are made on first boot, per VM
mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/90-dhcp.network" <<'EOF'
# Every wired NIC without a more specific file (the seed disk can add one) uses DHCP, as a cloud
# image's netplan default does.
[Match]
Name=en*

[Network]
DHCP=ipv4
IPv6AcceptRA=no

[DHCPv4]
UseDomains=yes
EOF
cat > "$root/usr/local/sbin/pp-firstboot" <<'EOF'
#!/bin/sh
# First boot from the seed disk (label "ppseed"), the way cloud-init's NoCloud data source does it.
# Files on the seed: hostname, admin_user, authorized_keys, network/*.network, ssh_host_*_key,
# ssh_port, apt-lists.tar.zst (all but authorized_keys optional; ssh_port moves sshd off 22 as some
# providers' images do; host keys supplied by the provider are used
# as cloud-init's `ssh_keys` are, missing types are generated; apt lists fetched by the provider a
# moment ago stand for cloud-init's `package_update`). Runs once: /var/lib/pp-firstboot/done.
set -eu
seed=/dev/disk/by-label/ppseed
i=0
while [ ! -e "$seed" ] && [ $i -lt 30 ]; do udevadm settle -t 2 || true; i=$((i + 1)); sleep 1; done
[ -e "$seed" ] || { echo "pp-firstboot: no seed disk (label ppseed)" >&2; exit 1; }
mnt=$(mktemp -d)
mount -o ro "$seed" "$mnt"
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
if [ -s "$mnt/hostname" ]; then
  name=$(cat "$mnt/hostname")
  echo "$name" > /etc/hostname
  hostname "$name"
  printf '127.0.1.1 %s\n' "$name" >> /etc/hosts
fi
user=$(cat "$mnt/admin_user" 2>/dev/null || echo ubuntu)
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo "$user"
install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
install -m 0600 -o "$user" -g "$user" "$mnt/authorized_keys" "/home/$user/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" > /etc/sudoers.d/90-cloud-init-users
chmod 0440 /etc/sudoers.d/90-cloud-init-users
if [ -f "$mnt/apt-lists.tar.zst" ]; then
  tar --zstd -C /var/lib/apt/lists -xf "$mnt/apt-lists.tar.zst"
  touch /var/lib/apt/lists
fi
if [ -d "$mnt/network" ]; then
  cp "$mnt"/network/*.network /etc/systemd/network/ 2>/dev/null || true
fi
for key in "$mnt"/ssh_host_*_key; do
  [ -f "$key" ] || continue
  install -m 0600 "$key" "/etc/ssh/${key##*/}"
  [ -f "$key.pub" ] && install -m 0644 "$key.pub" "/etc/ssh/${key##*/}.pub"
done
ssh-keygen -A
if [ -s "$mnt/ssh_port" ]; then
  printf '# Written at first boot from the seed (provider setting).\nPort %s\n' "$(cat "$mnt/ssh_port")" \
    > /etc/ssh/sshd_config.d/10-provider-port.conf
  systemctl daemon-reload   # ssh.socket's generator reads the port from sshd_config
fi
mkdir -p /var/lib/pp-firstboot
date -u +%FT%TZ > /var/lib/pp-firstboot/done
echo "pp-firstboot: $user created, host keys generated"
EOF
chmod 0755 "$root/usr/local/sbin/pp-firstboot"
cat > "$root/etc/systemd/system/pp-firstboot.service" <<'EOF'
[Unit]
Description=First boot from the seed disk: host name, admin user and key, SSH host keys, NICs
DefaultDependencies=no
After=local-fs.target systemd-udevd.service
Wants=systemd-udevd.service
Before=network-pre.target systemd-networkd.service ssh.socket ssh.service sysinit.target
Wants=network-pre.target
ConditionPathExists=!/var/lib/pp-firstboot/done

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/pp-firstboot
StandardOutput=journal+console

[Install]
WantedBy=sysinit.target
EOF
# Enabled the way `systemctl enable` would (its [Install] sections), without running it in a chroot.
wants() { mkdir -p "$root/etc/systemd/system/$1"; ln -sfn "$2" "$root/etc/systemd/system/$1/${2##*/}"; }
wants sysinit.target.wants /etc/systemd/system/pp-firstboot.service
wants multi-user.target.wants /usr/lib/systemd/system/systemd-networkd.service
wants sockets.target.wants /usr/lib/systemd/system/systemd-networkd.socket
wants network-online.target.wants /usr/lib/systemd/system/systemd-networkd-wait-online.service
wants sysinit.target.wants /usr/lib/systemd/system/systemd-resolved.service
ln -sfn /usr/lib/systemd/system/systemd-resolved.service "$root/etc/systemd/system/dbus-org.freedesktop.resolve1.service"
ln -sfn /usr/lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/dbus-org.freedesktop.network1.service"
mv "$root/root/packages.txt" "$work/packages.txt"

# 4. Kernel and initrd beside the disk (booted with qemu -kernel/-initrd, as a VPS host boots it).
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
echo "$kver" > "$work/kernel-version"

# 5. The disk: ext4 filled from the directory (no loop mount), then qcow2 (zeros not stored).
mkfs.ext4 -q -L cloudimg-rootfs -d "$root" "$work/disk.raw" "$DISK_SIZE" >&2
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
rm -rf "$root" "$work/disk.raw"
chmod 0444 "$work/disk.qcow2"
touch "$work/done"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
podman rm -f "$ctr" >/dev/null 2>&1 || true
# Keep the two newest older images (another checkout may still use one); drop the rest.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name '????????????????' ! -path "$out" -printf '%T@ %p\n' \
  | sort -rn | tail -n +3 | cut -d' ' -f2- | xargs -r rm -rf
echo "build-vm-image: built $out (kernel $kver) in $((SECONDS - start)) s" >&2
echo "$out"
