#!/usr/bin/env bash
# Wall time of the first converge and of the idempotent re-run of playbooks/hardening.yml on the
# Ubuntu 24.04 container of the `hardening` Molecule scenario. Prints numbers; asserts nothing.
# Needs the collection installed (scripts/install-collection.sh) and the test images.
#   bash benchmarks/hardening.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
s=hardening
limit=pp-hardening-ubuntu2404
trap 'molecule destroy -s "$s" >/dev/null 2>&1 || true' EXIT
molecule destroy -s "$s" >/dev/null 2>&1 || true
molecule create -s "$s" >/dev/null
molecule prepare -s "$s" >/dev/null
t=$(date +%s%N)
molecule converge -s "$s" -- --limit "$limit" >/dev/null
first=$(( ($(date +%s%N) - t) / 1000000 ))
t=$(date +%s%N)
out=$(molecule converge -s "$s" -- --limit "$limit" 2>&1)
rerun=$(( ($(date +%s%N) - t) / 1000000 ))
changed=$(echo "$out" | grep -Eo "^$limit +: ok=[0-9]+ +changed=[0-9]+" | grep -Eo 'changed=[0-9]+' || true)
printf 'hardening first converge (ubuntu2404): %d.%03d s\n' $((first / 1000)) $((first % 1000))
printf 'hardening idempotent re-run (ubuntu2404): %d.%03d s (%s)\n' $((rerun / 1000)) $((rerun % 1000)) "${changed:-changed=?}"
printf 'machine load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
