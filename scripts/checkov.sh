#!/bin/sh
# Scan infra/ with checkov, in its own virtual environment (its pins clash with ours).
#   scripts/checkov.sh            JSON report on stdout (what tests/infra/test_checkov.py reads)
#   scripts/checkov.sh --compact  any extra arguments go to checkov
# Environment: CHECKOV_VENV (default .venv-checkov at the repository root), PYTHON (default python3).
# Exit status: checkov's (1 when a check failed), 3 when checkov could not be installed.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${CHECKOV_VENV:-$ROOT/.venv-checkov}
PYTHON=${PYTHON:-python3}
VERSION=3.3.30

if [ ! -x "$VENV/bin/checkov" ] || [ "$(cat "$VENV/.checkov-version" 2>/dev/null)" != "$VERSION" ]; then
    "$PYTHON" -m venv "$VENV" >&2
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$VERSION" >&2; then
        echo "checkov.sh: could not install checkov==$VERSION into $VENV" >&2
        exit 3
    fi
    echo "$VERSION" > "$VENV/.checkov-version"
fi

cd "$ROOT"
exec "$VENV/bin/checkov" -d infra --framework bicep --skip-download -o json "$@"
