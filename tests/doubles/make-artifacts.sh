#!/usr/bin/env bash
# Build a K3s artifact directory from the TEST DOUBLE (tests/doubles/k3s), in the layout the k3s role
# expects for k3s_artifact_dir: the binary as `k3s` plus `sha256sum-amd64.txt` in the release format.
#   make-artifacts.sh DIR VERSION [--corrupt-sha]
# --corrupt-sha writes a wrong checksum (for the rejection test). Test-time output only: never a release.
set -euo pipefail
dir=$1 version=$2 mode=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
sed "s/@@VERSION@@/${version}/" "$here/k3s" > "$dir/k3s"
chmod 0755 "$dir/k3s"
sum=$(sha256sum "$dir/k3s" | cut -d' ' -f1)
if [ "$mode" = "--corrupt-sha" ]; then
  sum=$(printf '%s' "$sum" | tr '0-9a-f' '1-9a-f0')
fi
printf '%s  k3s\n' "$sum" > "$dir/sha256sum-amd64.txt"
echo "$dir"
