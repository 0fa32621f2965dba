#!/usr/bin/env bash
# Build the release tarball and prove it: it installs offline into an empty path, and it holds
# no tests, inventories, scripts or build output.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" .
tarball=$(ls "$out"/parametric_portal-infra-*.tar.gz)
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
listing=$(tar -tzf "$tarball")
echo "$(grep -c . <<<"$listing") entries"
bad=$(grep -E '^(tests|inventories|extensions|scripts|build|benchmarks|infrastructure|\.venv|\.tools|\.ci)(/|$)' <<<"$listing" || true)
if [ -n "$bad" ]; then echo "tarball contains files that must not ship:"; echo "$bad"; exit 1; fi
for need in MANIFEST.json FILES.json meta/runtime.yml playbooks/site.yml README.md LICENSE; do
  grep -qx "$need" <<<"$listing" || { echo "tarball lacks $need"; exit 1; }
done
ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-galaxy collection install --offline --no-deps --force -p "$out/installed" "$tarball"
test -f "$out/installed/ansible_collections/parametric_portal/infra/MANIFEST.json"
echo "installs offline: ok"
