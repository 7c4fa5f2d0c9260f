#!/usr/bin/env bash
# Distributed training on one or several machines through torchrun
# (mmengine's `pytorch` launcher). Without GPUs the processes use gloo on CPU.
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 bash tools/dist_train.sh CONFIG 8
set -e
exec bash "$(dirname "$0")/torchrun.sh" train.py "$2" "$1" "${@:3}"
