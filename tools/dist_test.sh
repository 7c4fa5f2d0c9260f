#!/usr/bin/env bash
# Distributed testing, as tools/dist_train.sh (same environment variables).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args]
set -e
exec bash "$(dirname "$0")/torchrun.sh" test.py "$3" "$1" "$2" "${@:4}"
