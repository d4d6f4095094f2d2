#!/usr/bin/env bash
# leafcube's quick start. On a fresh machine with python3 (and root for system packages):
#   ./dev.sh demo   build the demo cube and serve it on http://127.0.0.1:8000/
#   ./dev.sh test   install everything the tests need, then run the whole suite
# Extra arguments go to `leafcube demo` or to pytest (which then runs just once, with them).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${LEAFCUBE_VENV:-.venv}

system_packages() {
  # Real components the tests drive: GDAL's CLI, nginx, curl, openssl, and Debian's
  # GDAL Python bindings for the GomezEngine compatibility tests.
  local need=()
  command -v gdalinfo >/dev/null || need+=(gdal-bin)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v curl >/dev/null || need+=(curl)
  command -v openssl >/dev/null || need+=(openssl)
  # deploy tests run the Apache recipe too, and publish over rsync
  command -v apache2 >/dev/null || [ -x /usr/sbin/apache2 ] || need+=(apache2)
  command -v rsync >/dev/null || need+=(rsync)
  # tests/ingest traces a no-op re-run (it must open no COG)
  command -v strace >/dev/null || need+=(strace)
  /usr/bin/python3 -c "import osgeo.gdal, venv" 2>/dev/null || need+=(python3-gdal python3-venv)
  # the viewer tests drive Debian's Chromium headless (Playwright, no browser download)
  [ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
  # docs/recipes.md's R terra and QGIS recipes (tests/clients) run the real programs
  Rscript -e 'library(terra)' >/dev/null 2>&1 || need+=(r-base-core r-cran-terra)
  QT_QPA_PLATFORM=offscreen /usr/bin/python3 -c "import qgis.core" 2>/dev/null || need+=(python3-qgis qgis-providers)
  apt_install "${need[@]}"
}

apt_install() {
  [ $# -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "dev.sh: installing $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

viewer_build() {
  # The map viewer: npm packages from the registry, built into server/viewer/dist/ (package
  # data of leafcube.server). Rebuilt when its sources or lock file changed.
  command -v npm >/dev/null || apt_install nodejs npm
  local dir=server/viewer stamp
  stamp="$dir/dist/.stamp-$(cat "$dir/package-lock.json" "$dir/build.mjs" "$dir"/src/* | sha1sum | cut -c1-12)"
  [ -f "$stamp" ] && return 0
  echo "dev.sh: building the map viewer"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  touch "$stamp"
}

python_env() {
  # (Re)install the project when pyproject.toml changed since the last install.
  local extras=$1 stamp
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  stamp="$VENV/.leafcube-$extras-$(sha1sum pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "dev.sh: installing leafcube[$extras] into $VENV"
    "$VENV/bin/python" -m pip install -q -U pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".[$extras]"
    touch "$stamp"
  fi
}

typecheck_tree() {
  # mypy cannot follow the editable install's package-dir mapping (leafcube.server is
  # server/, ...): link each package of pyproject.toml's package-dir under
  # .typecheck/leafcube/, which [tool.mypy]'s mypy_path points at.
  rm -rf .typecheck
  mkdir -p .typecheck/leafcube
  : >.typecheck/leafcube/__init__.py
  local name folder
  "$VENV/bin/python" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    dirs = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
for name, folder in dirs.items():
    print(name.removeprefix("leafcube."), folder)
' | while read -r name folder; do
    ln -s "../../$folder" ".typecheck/leafcube/$name"
  done
}

case "${1:-}" in
  demo)
    shift
    viewer_build
    python_env test
    exec "$VENV/bin/leafcube" demo --cube demo-cube "$@"
    ;;
  test)
    shift
    system_packages
    viewer_build
    python_env test
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    typecheck_tree
    "$VENV/bin/mypy" -p leafcube
    if [ $# -gt 0 ]; then
      exec "$VENV/bin/python" -m pytest "$@"
    fi
    # the whole suite: two processes (one module stays on one, sharing its fixtures),
    # then the tests bounding time or memory alone (`serial`), on a quiet machine; both
    # always run, and the status is the first failure's
    status=0
    "$VENV/bin/python" -m pytest -n 2 --dist loadfile -m "not serial" || status=$?
    "$VENV/bin/python" -m pytest -m serial || { [ "$status" -ne 0 ] || status=$?; }
    exit "$status"
    ;;
  *)
    echo "usage: ./dev.sh demo [leafcube demo options] | ./dev.sh test [pytest options]" >&2
    exit 2
    ;;
esac
