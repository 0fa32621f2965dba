# Check mode only: what apt WOULD install and upgrade, without changing the host.
# The package lists are fetched into a temporary directory (removed on exit) instead of
# /var/lib/apt/lists, with apt's update hooks, binary caches and locks off, so the system's own
# lists, caches and dpkg state stay exactly as they were. Arguments: packages to install.
set -eu
d=$(mktemp -d /tmp/parametric-portal-apt-check.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/lists/partial" "$d/archives/partial"
cat > "$d/apt.conf" <<CONF
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
Dir::State::Lists "$d/lists/";
Dir::Cache::archives "$d/archives/";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
Debug::NoLocking "true";
CONF
export APT_CONFIG="$d/apt.conf" LC_ALL=C
apt-get -q update >"$d/update.log" 2>&1 || { cat "$d/update.log" >&2; exit 1; }
echo "== install"
if [ "$#" -gt 0 ]; then
  apt-get -s --no-install-recommends install -- "$@" >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; exit 1; }
  grep '^Inst ' "$d/install.log" || true
fi
echo "== security upgrades"
apt-get -s upgrade >"$d/upgrade.log" 2>&1 || { cat "$d/upgrade.log" >&2; exit 1; }
grep '^Inst ' "$d/upgrade.log" | grep -- '-security' || true
