#!/usr/bin/env bash
# Thin wrapper around the plain command, which is sufficient on its own:
#   molecule test -s <scenario>
# runs dependency, destroy, syntax, create, prepare, converge, idempotence (fails on any change),
# check (check mode on the converged hosts; fails on any change), verify and destroy, as
# extensions/molecule/config.yml defines. This wrapper only switches colours off for log files and
# prints how long each step took. Extra arguments go to `molecule test`.
set -euo pipefail
cd "$(dirname "$0")/.."
s=$1; shift
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 ANSIBLE_NOCOLOR=1
start=$SECONDS
set +e
molecule test -s "$s" "$@" 2>&1 | python3 -u "$(dirname "$0")/molecule-step-times.py"
rc=${PIPESTATUS[0]}
set -e
echo "--- molecule test -s $s: rc=$rc in $((SECONDS - start)) s"
exit "$rc"
