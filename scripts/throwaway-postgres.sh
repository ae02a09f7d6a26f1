# Sourced by the benchmark scripts: a throwaway PostgreSQL cluster, durable as shipped (fsync and
# synchronous_commit on), initdb'd into "$1/pg" (as the postgres user when run as root) and started
# on a free loopback port. Sets pgbin and pg_port; `throwaway_database NAME` creates a database
# and prints its URL; `stop_throwaway_postgres` stops the cluster (call it from the EXIT trap).
start_throwaway_postgres() {  # work directory
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
        apt-get install -y -qq postgresql >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
    }
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    pg_dir="$1/pg"
    pg_owner=()
    mkdir -p "$pg_dir"
    chmod 755 "$1"
    echo "bench-pw" >"$pg_dir/password"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$pg_dir"
        pg_owner=(runuser -u postgres --)
    fi
    pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${pg_owner[@]}" "$pgbin/initdb" -D "$pg_dir/data" -U bench --pwfile "$pg_dir/password" \
        --auth scram-sha-256 -E UTF8 --locale C >/dev/null
    "${pg_owner[@]}" "$pgbin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -o \
        "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_dir -c max_connections=100" start >/dev/null
}

throwaway_database() {  # name; prints the database's URL
    PGPASSWORD=bench-pw "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U bench "$1" >&2
    echo "postgres://bench:bench-pw@127.0.0.1:$pg_port/$1?sslmode=disable&pool_size=${BENCH_POOL:-8}"
}

stop_throwaway_postgres() {
    [ -n "${pg_dir:-}" ] && [ -d "$pg_dir/data" ] &&
        "${pg_owner[@]}" "$pgbin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
}
