#!/usr/bin/env bash
# Benchmark: backup and restore throughput of playbooks/backup_db.yml / restore_db.yml against
# plain pg_dump / pg_restore run by hand on the same PostgreSQL 17 server (a Debian 13 systemd
# container with the distribution's postgresql-17). Not part of CI pass/fail; prints numbers.
#
#   bash benchmarks/backup_db.sh            # ~200 MB database (BENCH_ROWS=1400000)
#   KEEP=1 bash benchmarks/backup_db.sh     # keep the container (pp-backup-bench) afterwards
#   BENCH_ROUNDS=6 bash benchmarks/backup_db.sh   # restore rounds (default 4, half of them module first; medians printed)
#
# Throughput = pg_database_size(benchdb) / wall time, in MB/s (1 MB = 10^6 bytes), the same
# numerator for every line. Target: the playbooks within 10% of the hand-run tools.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
C=${BENCH_CONTAINER:-pp-backup-bench}
ROWS=${BENCH_ROWS:-1400000}
ROUNDS=${BENCH_ROUNDS:-4}
IMAGE=${BENCH_IMAGE:-localhost/pp-debian13:latest}
WORK=$(mktemp -d)
export ANSIBLE_NOCOLOR=1 PY_COLORS=0
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/pytest-collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
PLAYBOOK=${ANSIBLE_PLAYBOOK:-$(command -v ansible-playbook || echo "$ROOT/.venv/bin/ansible-playbook")}
cleanup() {
  rm -rf "$WORK"
  if [ "${KEEP:-0}" != 1 ]; then podman rm -f "$C" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# The working tree as the collection (same link tests/conftest.py makes).
link="$ROOT/build/pytest-collections/ansible_collections/parametric_portal/infra"
[ -L "$link" ] || { mkdir -p "$(dirname "$link")"; ln -s "$ROOT" "$link"; }

pg() { podman exec -i -u postgres "$C" "$@"; }
psqlc() { pg psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
mbps() { python3 -c "import sys; b, t = float(sys.argv[1]), float(sys.argv[2]); print('%7.1f MB/s  (%6.2f s)' % (b / 1e6 / t, t))" "$1" "$2"; }

if ! podman container exists "$C"; then
  echo "--- starting $C ($IMAGE) and installing postgresql-17"
  podman run -d --name "$C" --systemd=always --cap-add SYS_ADMIN "$IMAGE" /sbin/init >/dev/null
  sleep 2
  podman exec "$C" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-17 >/dev/null'
fi
for _ in $(seq 30); do pg pg_isready -q && break; sleep 1; done

if [ "$(psqlc -c "SELECT count(*) FROM pg_database WHERE datname = 'benchdb'")" = 0 ]; then
  echo "--- generating benchdb ($ROWS rows)"
  psqlc -c "CREATE DATABASE benchdb"
  psqlc -d benchdb -c "CREATE TABLE bench (id bigint PRIMARY KEY, account int, amount numeric(12,2), note text, created timestamptz)"
  psqlc -d benchdb -c "INSERT INTO bench SELECT g, g % 10000, (g % 100000) / 100.0, md5(g::text) || ' ' || md5((g * 7)::text),
                       timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, $ROWS) g"
  psqlc -d benchdb -c "VACUUM ANALYZE bench"
fi
psqlc -c "DROP DATABASE IF EXISTS bench_by_hand" -c "DROP DATABASE IF EXISTS bench_by_playbook"
SIZE=$(psqlc -c "SELECT pg_database_size('benchdb')")
echo "--- benchdb: $((SIZE / 1000000)) MB (pg_database_size), PostgreSQL $(psqlc -c 'SHOW server_version')"
echo "--- nproc $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

VARS=$(printf '{"db_backup_exec_prefix": ["podman","exec","-i","-u","postgres","%s"], "db_backup_dir": "%s", "infra_environment": "bench", "db_backup_databases": ["benchdb"], "db_backup_retention_enabled": false}' "$C" "$WORK/playbook")

echo "--- backup"
t0=$(now); pg pg_dump -Fc -d benchdb -f /var/tmp/bench_inside.dump; t1=$(now)
echo "pg_dump -Fc by hand, file inside the container:        $(mbps "$SIZE" "$(python3 -c "print($t1 - $t0)")")"
t0=$(now); pg pg_dump -Fc -d benchdb > "$WORK/by_hand.dump"; t1=$(now)
echo "pg_dump -Fc by hand, streamed to this machine:         $(mbps "$SIZE" "$(python3 -c "print($t1 - $t0)")")"
t0=$(now); "$PLAYBOOK" -i localhost, playbooks/backup_db.yml -e "$VARS" > "$WORK/backup.log" 2>&1 || { tail -40 "$WORK/backup.log"; exit 1; }; t1=$(now)
echo "playbooks/backup_db.yml (whole ansible-playbook run):  $(mbps "$SIZE" "$(python3 -c "print($t1 - $t0)")")"
manifest=$(ls "$WORK"/playbook/bench/api-db/benchdb-*.manifest.json)
mod=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['seconds'])" "$manifest")
echo "  of which the dump module (pg_dump stream + sha256 + pg_restore --list): $(mbps "$SIZE" "$mod")"
echo "  archive: $(stat -c %s "$WORK"/playbook/bench/api-db/benchdb-*.dump) bytes (by hand: $(stat -c %s "$WORK/by_hand.dump"))"
pg rm -f /var/tmp/bench_inside.dump

# CPU accounting, which a busy shared machine distorts far less than wall time: the container's cgroup
# (pg_restore, the PostgreSQL backend, everything server-side) and the client side on this machine
# (the podman exec client by hand; the module's own process and its exec clients, from its cpu_seconds).
CG=/sys/fs/cgroup/cpuacct/libpod_parent/libpod-$(podman inspect --format '{{.Id}}' "$C")/cpuacct.usage
[ -r "$CG" ] || CG=""
cg() { if [ -n "$CG" ]; then cat "$CG"; else echo 0; fi; }
secs() { python3 -c "import sys; print('%.2f' % ((int(sys.argv[2]) - int(sys.argv[1])) / 1e9))" "$1" "$2"; }
SHA=$(sha256sum "$WORK/by_hand.dump" | cut -d' ' -f1)
module_args() {
  printf '{"exec_prefix": ["podman","exec","-i","-u","postgres","%s"], "backup": "%s", "sha256": "%s", "database": "%s", "size_reference_database": "benchdb"}' \
    "$C" "$WORK/by_hand.dump" "$SHA" "$1"
}
ANSIBLE=$(dirname "$PLAYBOOK")/ansible

echo "--- restore ($ROUNDS rounds; the load module measures free space and creates the database in one exec, then"
echo "    streams the archive once into pg_restore, hashing it on the way. The same work by hand is CREATE DATABASE"
echo "    + pg_restore. Before each timed restore the server checkpoints and this machine syncs, so no restore"
echo "    pays for the previous one's dirty pages; odd rounds run the hand-run tools first, even rounds the module)"
settle() { psqlc -c "CHECKPOINT"; sync; }
by_hand() {  # sets hand, hand_create, hand_client, hand_server
  settle
  c0=$(cg); t0=$(now); psqlc -c "CREATE DATABASE bench_by_hand"; t1=$(now)
  /usr/bin/time -o "$WORK/time" -f '%U %S' podman exec -i -u postgres "$C" pg_restore --exit-on-error -d bench_by_hand < "$WORK/by_hand.dump"
  t2=$(now); c1=$(cg)
  hand=$(python3 -c "print($t2 - $t1)"); hand_create=$(python3 -c "print($t2 - $t0)")
  hand_client=$(awk '{printf "%.2f", $1 + $2}' "$WORK/time"); hand_server=$(secs "$c0" "$c1")
}
by_module() {  # sets mod_secs, mod_cpu, mod_server
  settle
  c2=$(cg)
  ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ANSIBLE_LOAD_CALLBACK_PLUGINS=1 "$ANSIBLE" localhost -c local \
    -m parametric_portal.infra.db_backup_load -a "$(module_args bench_by_module)" > "$WORK/module.json" 2>&1 \
    || { tail -40 "$WORK/module.json"; exit 1; }
  c3=$(cg); mod_server=$(secs "$c2" "$c3")
  read -r mod_secs mod_cpu < <(python3 -c "import json, sys
text = open(sys.argv[1]).read()
r = json.JSONDecoder().raw_decode(text[text.index('{'):])[0]['plays'][0]['tasks'][0]['hosts']['localhost']
print(r['seconds'], r['cpu_seconds'])" "$WORK/module.json")
}
ratios=(); restore_only=(); cpu_ratios=()
for round in $(seq "$ROUNDS"); do
  psqlc -c "DROP DATABASE IF EXISTS bench_by_hand" -c "DROP DATABASE IF EXISTS bench_by_module" -c "DROP DATABASE IF EXISTS bench_by_playbook"
  if [ $((round % 2)) = 1 ]; then by_hand; by_module; order="hand first"; else by_module; by_hand; order="module first"; fi
  settle; t0=$(now)
  "$PLAYBOOK" -i localhost, playbooks/restore_db.yml -e "$VARS" -e db_backup_restore_source_database=benchdb \
    -e restore_database=bench_by_playbook -e restore_confirm=bench_by_playbook > "$WORK/restore.log" 2>&1 || { tail -40 "$WORK/restore.log"; exit 1; }
  t1=$(now)
  echo "round $round ($order):"
  echo "         pg_restore by hand, streamed from this machine:    $(mbps "$SIZE" "$hand")"
  echo "         CREATE DATABASE + pg_restore by hand:              $(mbps "$SIZE" "$hand_create")"
  echo "         load module alone (ansible -m, its own seconds):   $(mbps "$SIZE" "$mod_secs")"
  echo "         restore_db.yml (whole ansible-playbook run):       $(mbps "$SIZE" "$(python3 -c "print($t1 - $t0)")")"
  echo "         CPU s by hand: server $hand_server + client $hand_client;  module: server $mod_server + client $mod_cpu"
  ratios+=("$(python3 -c "print(round($hand_create / $mod_secs, 3))")")
  restore_only+=("$(python3 -c "print(round($hand / $mod_secs, 3))")")
  cpu_ratios+=("$(python3 -c "print(round(($hand_server + $hand_client) / ($mod_server + $mod_cpu), 3))")")
  echo "--- rows: benchdb $(psqlc -d benchdb -c 'SELECT count(*) FROM bench'), by hand $(psqlc -d bench_by_hand -c 'SELECT count(*) FROM bench'), module $(psqlc -d bench_by_module -c 'SELECT count(*) FROM bench'), playbook $(psqlc -d bench_by_playbook -c 'SELECT count(*) FROM bench')"
done
psqlc -c "DROP DATABASE IF EXISTS bench_by_hand" -c "DROP DATABASE IF EXISTS bench_by_module" -c "DROP DATABASE IF EXISTS bench_by_playbook"
median() { python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
echo "--- load module / (CREATE DATABASE + pg_restore by hand), the same work, per round: ${ratios[*]}; median $(median "${ratios[@]}") (target >= 0.9)"
echo "--- load module / pg_restore alone by hand (the module's time also holds the space check and CREATE DATABASE): ${restore_only[*]}; median $(median "${restore_only[@]}")"
echo "--- load module / pg_restore by hand, CPU (server + client) per round: ${cpu_ratios[*]}; median $(median "${cpu_ratios[@]}")"
