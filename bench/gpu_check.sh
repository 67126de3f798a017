#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py says what it measures): at most 8 minutes on one H100/H200, one JSON
# line per measure on stdout. `bench/gpu_check.sh --dry-run` runs the same path on the CPU with a tiny model.
#   bench/gpu_check.sh [--dry-run] [--model DIR] [--work-dir DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${LION_PYTHON:-$here/../.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
# The whole check is cut at 8 minutes: a slower machine reports what it finished.
exec timeout --signal=INT --kill-after=20 "${GPU_CHECK_TIMEOUT_S:-480}" "$python" "$here/gpu_check.py" "$@"
