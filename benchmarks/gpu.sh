#!/usr/bin/env bash
# The device checks in one go: the CUDA tests, then benchmarks/gpu.py's table and the DVS emulator's.
#
#   benchmarks/gpu.sh [--device cuda|cpu] [--batch N] [--repeat N]
#
# Defaults: --device cuda --batch 10000 (MNIST digits). Run from the repository root. A GPU
# machine may reach no package index: wheels in .whl/ (git-ignored; carried along with the
# repo) are installed first, offline, as ../shared/docs/environment.md describes:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl snntorch==1.0.0 aedat lz4 zstandard av pillow
# The CPU dry run is `benchmarks/gpu.sh --device cpu --batch 256` (the CUDA tests skip).
set -euo pipefail
device=cuda
batch=10000
repeat=5
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    *) echo "gpu.sh: unknown option $1 (use --device, --batch, --repeat)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python -m pip install -q --no-index --no-deps .whl/*.whl
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -m pytest -q -m cuda -p no:cacheprovider tests
python benchmarks/gpu.py --device "$device" --batch "$batch" --repeat "$repeat"
python benchmarks/dvs.py --device "$device" --repeat "$repeat" --frames 60 --large-frames 30
