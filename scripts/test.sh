#!/usr/bin/env bash
# Install what is missing, then run every check CI runs: ruff, mypy and the test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k uplink). Two test processes, each
# taking whole files: most tests wait on real brokers, ptys, servers and browsers, not on the
# CPU, so two share this 2-core machine's budget well.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest -n 2 --dist loadfile "$@"
