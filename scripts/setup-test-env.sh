#!/usr/bin/env bash
# Creates the Python virtualenvs the interop tests use, idempotently:
#   .venv-cpp2  rocketmq-python-cvs==2.1.0.3  (Apache rocketmq-client-cpp 2.1.0 inside)
#   .venv-cpp1  rocketmq==0.4.4               (rocketmq-client-cpp 1.x inside)
# Both packages provide the `rocketmq` module, hence one virtualenv each.
# Also installs Debian's chromium (tests/console_browser.rs drives mqconsole with it) when absent.
# Also installs promtool (Debian's prometheus package) when missing.
# Installs python3-venv with apt-get only when `python3 -m venv` does not work.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}

log() { echo "setup-test-env: $*"; }

if ! command -v "$PY" >/dev/null 2>&1; then
    log "python3 missing, installing it with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi

# Only probed when a virtualenv has to be created: the probe itself takes seconds.
ensure_venv_module() {
    local probe
    probe=$(mktemp -d)
    if ! "$PY" -m venv "$probe/v" >/dev/null 2>&1; then
        log "python3 -m venv does not work, installing python3-venv with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    rm -rf "$probe"
}

make_venv() {
    local dir=$1 pkg=$2
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import rocketmq.client" >/dev/null 2>&1; then
        log "$dir ready ($pkg)"
        return
    fi
    ensure_venv_module
    log "creating $dir with $pkg"
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/pip" install --disable-pip-version-check -q "$pkg"
    "$dir/bin/python" -c "import rocketmq.client" >/dev/null
    log "$dir ready ($pkg)"
}

# promtool (Debian's prometheus package) checks the /metrics pages in tests/metrics_process.rs.
if ! command -v promtool >/dev/null 2>&1; then
    log "promtool missing, installing Debian's prometheus package with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
log "promtool ready ($(command -v promtool))"

make_venv .venv-cpp2 rocketmq-python-cvs==2.1.0.3
make_venv .venv-cpp1 rocketmq==0.4.4

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    log "chromium ready"
else
    log "chromium missing, installing it with apt-get (large; only this once)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    log "chromium ready"
fi
