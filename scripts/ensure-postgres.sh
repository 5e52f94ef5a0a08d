#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) exist: the integration tests start
# and stop their own throwaway server with them. Installs Debian's package when missing.
set -euo pipefail

find_bindir() {
    if command -v pg_config >/dev/null 2>&1; then
        local d
        d="$(pg_config --bindir)"
        if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    fi
    local candidate
    for candidate in /usr/lib/postgresql/*/bin; do
        if [ -x "$candidate/initdb" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}

if bindir="$(find_bindir)"; then
    echo "postgres: server binaries in $bindir"
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres: installing Debian's postgresql package (server binaries for the tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    # The package's own cluster is not needed: the tests start their own server.
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        for cluster in /etc/postgresql/*/main; do
            [ -d "$cluster" ] || continue
            version="$(basename "$(dirname "$cluster")")"
            pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
        done
    fi
    bindir="$(find_bindir)"
    echo "postgres: installed, server binaries in $bindir"
    exit 0
fi

echo "postgres: initdb not found and cannot install it (not root or no apt-get)." >&2
echo "postgres: install the PostgreSQL server package, or set TWITCHCHECK_PG_BINDIR." >&2
exit 1
