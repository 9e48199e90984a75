# Sourced by scripts/test.sh and bench/postgres.sh: a throwaway PostgreSQL cluster in a
# temporary directory, on its own port, removed when the calling script exits.
#   start_throwaway_pg PORT [postgres -c settings…]   sets PG_URL
# Installs postgresql with apt when it is missing.
start_throwaway_pg() {
  local port=$1; shift
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
  fi
  pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  pg_dir=$(mktemp -d /tmp/caltrace-pg.XXXXXX)
  trap stop_throwaway_pg EXIT
  run_as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres --no-sync >/dev/null
  local settings="-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300"
  for setting in "$@"; do settings="$settings -c $setting"; done
  run_as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start -o "$settings" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# initdb refuses to run as root: run the cluster as the postgres user then.
run_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$pg_dir"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_throwaway_pg() {
  run_as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
