#!/usr/bin/env bash
# Print a colon-separated list of this machine's writable host-global files under /proc/sys
# (kernel, vm, fs, dev, debug, abi, user), for `podman run --security-opt mask=<list>`.
# A container started with it cannot change the machine's kernel settings, while net.* stays
# writable in the container's own network namespace. The UTS and IPC keys are namespaced and are
# left out, as are fs/mqueue and fs/binfmt_misc.
set -euo pipefail
find /proc/sys/kernel /proc/sys/vm /proc/sys/fs /proc/sys/dev /proc/sys/debug /proc/sys/abi /proc/sys/user \
    -type f -perm -u+w 2>/dev/null \
  | grep -vE '^/proc/sys/kernel/(hostname|domainname|msg[a-z_]*|sem|shm[a-z_]*|ns_last_pid)$' \
  | grep -vE '^/proc/sys/fs/(mqueue|binfmt_misc)/' \
  | paste -sd: -
