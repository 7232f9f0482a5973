# Sourced by scripts/test, scripts/dev and scripts/bench: what each needs installed, redone only
# when its inputs changed (a fresh clone installs everything; a second run is quick).
source scripts/toolchain.sh  # Node >= 22 first on PATH

# The Python environment with the given extras (pip skips what is already there).
setup_python() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
}

# npm's packages, exactly as package-lock.json pins them.
setup_npm() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# The Worker's Python dependencies, built for Pyodide (scripts/vendor_worker.py), and the
# Pyodide bundle that real workerd runs offline (scripts/workerd/bundle.py).
setup_worker() {
  local stamp=python_modules/.vendored
  if [ ! -f $stamp ] || [ pyproject.toml -nt $stamp ] || [ scripts/vendor_worker.py -nt $stamp ] \
    || { [ "${1:-}" = --test-site ] && [ ! -d .pyodide-test-site/pytest ]; }; then
    .venv/bin/python scripts/vendor_worker.py "$@"
    touch $stamp
  fi
  .venv/bin/python scripts/workerd/bundle.py >/dev/null
}
