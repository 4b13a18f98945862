#!/usr/bin/env bash
# The Python package (bindings/python, distribution dolly-cpu, import dollycpu): installed with pip
# into a fresh venv from the repository, bundling the shared libdolly of an existing build
# (CONFIG=debug by default, as CI's `swift test` leaves it), then its pytest suite against the demo
# model and the CLI of the same build.
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
CONFIG=${CONFIG:-debug}
VENV=${VENV:-/tmp/dolly-python-venv}
swift build -c "$CONFIG" --product DollyC 2>&1 | tail -n 1
[ -x ".build/$CONFIG/dolly" ] || swift build -c "$CONFIG" --product dolly 2>&1 | tail -n 1
rm -rf "$VENV" bindings/python/build
python3 -m venv "$VENV"
if ! "$VENV/bin/pip" install -q pytest >/dev/null 2>&1; then
  echo "WARNING: could not install pytest; the Python package's tests are skipped"
  exit 0
fi
DOLLY_LIBRARY="$PWD/.build/$CONFIG/libDollyC.so" "$VENV/bin/pip" install -q ./bindings/python
rm -rf bindings/python/build bindings/python/src/*.egg-info
DOLLY_CLI="$PWD/.build/$CONFIG/dolly" "$VENV/bin/python" -m pytest -q -p no:cacheprovider bindings/python/tests
