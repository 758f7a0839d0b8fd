# A throwaway PostgreSQL 15 cluster for the end-to-end tests. Sourced by scripts/test-all.
# The cluster lives in RUN_DIR/postgres, listens on 127.0.0.1 on a free port, keeps its unix socket
# inside that directory, and is stopped by stop_test_postgres (scripts/test-all calls it on exit).

# The major version the tests run against (Debian 12's).
PG_MAJOR=15

# pg_bin NAME: prints the full path of a PostgreSQL server program.
pg_bin() {
    printf '/usr/lib/postgresql/%s/bin/%s\n' "$PG_MAJOR" "$1"
}

# as_postgres CMD...: runs CMD as the postgres system user (initdb and postgres refuse root).
as_postgres() {
    as_root runuser -u postgres -- "$@"
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_test_postgres: creates and starts the cluster, then writes its URL (superuser `postgres`,
# a random password, database `postgres`) to RUN_DIR/postgres.url.
start_test_postgres() {
    local dir="$RUN_DIR/postgres"
    [[ -x $(pg_bin initdb) ]] || die "PostgreSQL $PG_MAJOR is not installed ($(pg_bin initdb) missing)"
    mkdir -p "$dir/socket"
    local password
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    printf '%s\n' "$password" >"$dir/pwfile"
    as_root chown -R postgres:postgres "$dir"
    chmod 700 "$dir"
    info "initdb into $dir/data"
    as_postgres "$(pg_bin initdb)" -D "$dir/data" -U postgres --auth=scram-sha-256 \
        --pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log"; return 1; }
    rm -f "$dir/pwfile"
    local port
    port=$(free_port)
    info "starting PostgreSQL $PG_MAJOR on 127.0.0.1:$port"
    if ! as_postgres "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket" start; then
        cat "$dir/server.log"
        return 1
    fi
    local url="postgres://postgres:$password@127.0.0.1:$port/postgres"
    PGCONNECT_TIMEOUT=10 psql "$url" -v ON_ERROR_STOP=1 -qAtc 'select version()'
    printf '%s\n' "$url" >"$RUN_DIR/postgres.url"
}

# stop_test_postgres: stops the cluster if it runs (fast shutdown, then immediate as a fallback).
stop_test_postgres() {
    local data="$RUN_DIR/postgres/data"
    [[ -f $data/postmaster.pid ]] || return 0
    info "stopping the throwaway PostgreSQL"
    as_postgres "$(pg_bin pg_ctl)" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        as_postgres "$(pg_bin pg_ctl)" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}
