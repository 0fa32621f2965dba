#!/usr/bin/env bash
# infrastructure/ (the GitOps tree: multi-document Kubernetes YAML, site data excluded from the
# collection build like the inventories) is not collection content and is not copied.
# ansible-test sanity needs the collection under ansible_collections/<ns>/<name>: copy the tracked
# files there (a clean clone can live in any folder) and run it with no ignore entries.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then
  echo "tests/sanity/ignore-*.txt exists: this project keeps no ignore entries"; exit 1
fi
# ansible-test bootstraps pip in its venvs with a script from a host that is unreachable here:
# provide our own stand-in (see the script's docstring) under the cache name ansible-test looks for.
pip_version=$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11", path="/usr/bin/python3"))["pip"])
PY
)
mkdir -p ~/.ansible/test/cache
cp scripts/ansible-test-get-pip.py ~/.ansible/test/cache/get_pip_${pip_version//./_}.py

mkdir -p build
work=$(mktemp -d "$PWD/build/sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dst=$work/ansible_collections/parametric_portal/infra
mkdir -p "$dst"
{ git ls-files -co --exclude-standard 2>/dev/null || find . -type f -not -path './.git/*'; } \
  | grep -vE '^(\.venv|\.tools|build|\.pytest_cache|infrastructure)/' | tar -cf - -T - | tar -C "$dst" -xf -
# Collections our modules import at run time (galaxy.yml dependencies used from Python, e.g.
# kubernetes.core's AUTH_ARG_SPEC and its client) must sit beside ours for ansible-test's import and
# validate-modules tests, as community collections do in CI: link them from the pip `ansible` package.
site_collections=$(python - <<'PY'
import os
import ansible_collections
print(next(p for p in ansible_collections.__path__ if os.path.isdir(os.path.join(p, "kubernetes", "core"))))
PY
)
for dep in kubernetes/core; do
  mkdir -p "$work/ansible_collections/${dep%/*}"
  ln -s "$site_collections/$dep" "$work/ansible_collections/$dep"
done
cd "$dst"
git init -q . && git add -A >/dev/null 2>&1
ansible-test sanity --color no --python 3.11 --local "$@"
# The docs linter community collections run (antsibull-docs, pinned in requirements.lock): module,
# filter and role documentation, markup and references, with zero findings. Only on a full run (no
# ansible-test arguments). The dependencies come from the pip `ansible` package;
# GIT_CEILING_DIRECTORIES stops it from taking them for ignored files of an enclosing git checkout
# (it would then copy nothing of them).
if [ $# -eq 0 ]; then
  GIT_CEILING_DIRECTORIES="$(readlink -f "$site_collections")" \
    ANSIBLE_COLLECTIONS_PATH="$work:$(dirname "$site_collections")" \
    antsibull-docs lint-collection-docs --plugin-docs "$dst"
  echo "antsibull-docs lint-collection-docs --plugin-docs: no findings"
fi
