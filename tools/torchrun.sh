#!/usr/bin/env bash
# What tools/dist_train.sh and tools/dist_test.sh share: run a tool of this
# folder on NPROCS processes per machine through torchrun (mmengine's
# `pytorch` launcher). Without GPUs the processes use gloo on CPU.
#   bash tools/torchrun.sh TOOL NPROCS [tool args]   (TOOL: train.py, test.py)
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON.
set -e
TOOL=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# One machine: gloo talks over loopback, whatever the host name resolves to.
if [ "$NNODES" = 1 ] && [ -z "${GLOO_SOCKET_IFNAME:-}" ] && [ -e /sys/class/net/lo ]; then
    export GLOO_SOCKET_IFNAME=lo
fi
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PY" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$NPROCS \
    --master_port=$PORT \
    "$ROOT/tools/$TOOL" \
    "${@:3}" \
    --launcher pytorch
