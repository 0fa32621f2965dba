#!/usr/bin/env bash
# Make this working tree importable as the collection parametric_portal.infra:
#   build/pytest-collections/ansible_collections/parametric_portal/infra -> <this checkout>
# (the path tests/conftest.py keeps too). Re-created when it points anywhere else, e.g. in a copied
# checkout that carries another tree's build/. Used as Molecule's dependency step, so FQCN
# playbooks in every scenario run this checkout's code, never an installed copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
link="$root/build/pytest-collections/ansible_collections/parametric_portal/infra"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null || true)" != "$root" ]; then
  tmp="$link.tmp.$$"
  ln -sfn "$root" "$tmp"
  mv -Tf "$tmp" "$link"   # atomic: a concurrent reader sees the old or the new link, never none
fi
echo "collection link: $link -> $(readlink "$link")"
