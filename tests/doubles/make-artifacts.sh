#!/usr/bin/env bash
# Build a K3s artifact directory from the TEST DOUBLE (tests/doubles/k3s), in the layout the k3s role
# expects for k3s_artifact_dir: the binary as `k3s` plus `sha256sum-amd64.txt` in the release format.
#   make-artifacts.sh DIR VERSION [--corrupt-sha] [--images] [--corrupt-images-sha]
# --corrupt-sha         writes a wrong checksum for the binary (for the rejection test).
# --images              adds k3s-airgap-images-amd64.tar.gz, a TEST DOUBLE of the airgap images tarball:
#                       a real gzip'd tar holding one text file that says it is not container images.
# --corrupt-images-sha  adds the images tarball with a wrong checksum line.
# Test-time output only: never a release.
set -euo pipefail
dir=$1 version=$2; shift 2
corrupt_sha=0 images=0 corrupt_images=0
for flag in "$@"; do
  case $flag in
    --corrupt-sha) corrupt_sha=1 ;;
    --images) images=1 ;;
    --corrupt-images-sha) images=1 corrupt_images=1 ;;
    *) echo "make-artifacts.sh: unknown flag $flag" >&2; exit 64 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
corrupt() { printf '%s' "$1" | tr '0-9a-f' '1-9a-f0'; }
mkdir -p "$dir"
rm -f "$dir"/k3s-airgap-images-*
sed "s/@@VERSION@@/${version}/" "$here/k3s" > "$dir/k3s"
chmod 0755 "$dir/k3s"
sum=$(sha256sum "$dir/k3s" | cut -d' ' -f1)
[ "$corrupt_sha" = 1 ] && sum=$(corrupt "$sum")
printf '%s  k3s\n' "$sum" > "$dir/sha256sum-amd64.txt"
if [ "$images" = 1 ]; then
  work=$(mktemp -d)
  printf 'TEST DOUBLE of the K3s %s airgap images tarball (tests/doubles/make-artifacts.sh).\nNot container images: nothing here can run.\n' \
    "$version" > "$work/TEST-DOUBLE-NOT-CONTAINER-IMAGES.txt"
  # Fixed mtime and owner: the same version always gives the same bytes.
  tar -C "$work" --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - TEST-DOUBLE-NOT-CONTAINER-IMAGES.txt \
    | gzip -n > "$dir/k3s-airgap-images-amd64.tar.gz"
  rm -rf "$work"
  isum=$(sha256sum "$dir/k3s-airgap-images-amd64.tar.gz" | cut -d' ' -f1)
  [ "$corrupt_images" = 1 ] && isum=$(corrupt "$isum")
  printf '%s  k3s-airgap-images-amd64.tar.gz\n' "$isum" >> "$dir/sha256sum-amd64.txt"
fi
echo "$dir"
