#!/usr/bin/env bash
# ansible-test sanity needs the collection under ansible_collections/<ns>/<name>: copy the tracked
# files there (a clean clone can live in any folder) and run it with no ignore entries.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then
  echo "tests/sanity/ignore-*.txt exists: this project keeps no ignore entries"; exit 1
fi
dst=build/sanity/ansible_collections/parametric_portal/infra
rm -rf build/sanity && mkdir -p "$dst"
{ git ls-files -co --exclude-standard 2>/dev/null || find . -type f -not -path './.git/*'; } \
  | grep -vE '^(\.venv|\.tools|build)/' | tar -cf - -T - | tar -C "$dst" -xf -
cd "$dst"
git init -q . && git add -A >/dev/null 2>&1
ansible-test sanity --color no --python 3.11 --local "$@"
