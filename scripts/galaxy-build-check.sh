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
bad=$(tar -tzf "$tarball" | grep -E '^(tests|inventories|extensions|scripts|build|\.venv|\.ci|infrastructure/build)/' || true)
if [ -n "$bad" ]; then echo "tarball contains files that must not ship:"; echo "$bad"; exit 1; fi
for need in galaxy.yml MANIFEST.json meta/runtime.yml playbooks/site.yml; do
  tar -tzf "$tarball" | grep -qx "$need" || { [ "$need" = galaxy.yml ] && continue; echo "missing $need"; exit 1; }
done
ansible-galaxy collection install --offline --no-deps -p "$out/installed" "$tarball"
test -f "$out/installed/ansible_collections/parametric_portal/infra/MANIFEST.json"
echo "installs offline: ok"
