#!/usr/bin/env bash
# Build this collection and install it offline into build/collections, next to nothing else:
# its dependencies (kubernetes.core, ansible.posix, community.*) come with the pip `ansible` package.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build/dist && mkdir -p build/dist build/collections
ansible-galaxy collection build --force --output-path build/dist . >/dev/null
ansible-galaxy collection install --offline --force --no-deps -p build/collections build/dist/*.tar.gz
