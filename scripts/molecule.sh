#!/usr/bin/env bash
# Run one Molecule scenario: destroy, syntax, create, prepare, converge, idempotence (zero changes),
# check mode on the converged host (asserted: zero changes), verify, destroy. The steps are run one
# by one because `molecule check` itself does not fail on reported changes.
set -euo pipefail
cd "$(dirname "$0")/.."
s=$1
# Scenarios can mask every writable host-global /proc/sys file with security_opts: ["mask=${PP_SYSCTL_MASK}"].
export PP_SYSCTL_MASK="${PP_SYSCTL_MASK:-$(bash scripts/container-sysctl-masks.sh)}"
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 ANSIBLE_NOCOLOR=1
log=$(mktemp)
trap 'rm -f "$log"; molecule destroy -s "$s" >/dev/null 2>&1 || true' EXIT
step() { echo "--- molecule $1 -s $s"; local t=$SECONDS; molecule "$1" -s "$s"; echo "--- $1 took $((SECONDS - t)) s"; }
step destroy
step syntax
step create
step prepare
step converge
step idempotence
echo "--- molecule check -s $s (must report changed=0)"
molecule check -s "$s" 2>&1 | tee "$log"
if grep -E '^\S.*: ok=[0-9]+ +changed=[1-9][0-9]*' "$log"; then
  echo "check mode on the converged host reported changes"; exit 1
fi
grep -qE 'ok=[0-9]+' "$log" || { echo "check mode produced no play recap"; exit 1; }
step verify
step destroy
