#!/usr/bin/env bash
# Install CP2K from Debian (bookworm: cp2k 2023.1, OpenMPI + OpenMP build) if it is missing.
# Idempotent: with cp2k already on PATH it only reports. Prints
#   cp2k: <binary path>
#   cp2k-data: <directory holding BASIS_MOLOPT and GTH_POTENTIALS>
# and exits 0; exits 1 with one line on stderr when CP2K is missing and cannot be installed.
# The dpkg lock timeout lets this run while another apt-get (e.g. slurm) holds the lock.
set -u

find_cp2k() {
    local name
    for name in cp2k cp2k.psmp cp2k.ssmp cp2k.popt cp2k.sopt; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    done
    return 1
}

find_data() {
    local dir
    for dir in "${CP2K_DATA_DIR:-}" /usr/share/cp2k/data /usr/share/cp2k /usr/local/share/cp2k/data; do
        if [ -n "$dir" ] && [ -f "$dir/BASIS_MOLOPT" ] && [ -f "$dir/GTH_POTENTIALS" ]; then echo "$dir"; return 0; fi
    done
    return 1
}

fail() { echo "install-cp2k.sh: $*" >&2; exit 1; }

if ! find_cp2k >/dev/null || ! find_data >/dev/null; then
    [ "${EUID:-$(id -u)}" -eq 0 ] || fail "cp2k is not installed and we are not root (run: apt-get install cp2k)"
    command -v apt-get >/dev/null 2>&1 || fail "cp2k is not installed and there is no apt-get"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    # apt-get update only when the package lists do not know cp2k
    if ! apt-cache show cp2k >/dev/null 2>&1; then
        apt-get -o DPkg::Lock::Timeout=600 update >"$log" 2>&1 || fail "apt-get update failed: $(tail -n 1 "$log")"
    fi
    if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 cp2k >"$log" 2>&1; then
        # stale lists (404 on a superseded .deb): refresh once and retry
        apt-get -o DPkg::Lock::Timeout=600 update >>"$log" 2>&1
        apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 cp2k >>"$log" 2>&1 \
            || fail "apt-get install cp2k failed: $(grep -E '^(E|W):' "$log" | tail -n 1)"
    fi
    rm -f "$log"
fi

binary=$(find_cp2k) || fail "cp2k was installed but no cp2k binary (cp2k, cp2k.psmp, cp2k.ssmp, cp2k.popt, cp2k.sopt) is on PATH"
data=$(find_data) || fail "cp2k is at $binary but BASIS_MOLOPT/GTH_POTENTIALS were not found (set CP2K_DATA_DIR)"
echo "cp2k: $binary"
echo "cp2k-data: $data"
