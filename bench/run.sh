#!/bin/bash
# run.sh - `make bench`: every bench/bench-*.sh in turn, each measuring one
# part of miso against its competitor side by side in the same run.
# Figures are printed; bench/RESULTS.md records them with date and machine.
set -u
cd "$(dirname "$0")/.." || exit 2
export MISO_BIN="$PWD/${MISO_BUILD:-build}/bin"
export PATH="$MISO_BIN:$PATH"
mkdir -p bench/out
echo "# miso bench, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for b in bench/bench-*.sh; do
    [ -f "$b" ] || continue
    [ -n "${1:-}" ] && [[ "$b" != *"$1"* ]] && continue
    echo "## $(basename "$b" .sh)"
    bash "$b" || echo "($b failed with status $?)"
done
