#!/usr/bin/env bash
# The GPU checks of the benchmarks, in one call of a lent device machine
# (docs: benchmarks/README.md, "GPU"). The machine has torch + CUDA but no
# OpenMMLab packages: carry their pure-Python wheels in .whl/ (mmengine
# 0.10.7, mmcv-lite 2.1.0, mmpretrain 1.2.0, addict, yapf, termcolor,
# model-index (not the empty 'modelindex'), platformdirs, ordered-set,
# mat4py, importlib_metadata, lazy-importer; `pip download --no-deps
# --only-binary=:all: --python-version 3.12 -d .whl NAME`) and this
# installs them into /tmp/site first. Tables go to $OUT (or
# benchmarks/results).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results}
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
cd benchmarks
for size in 224 64; do
  batch=$([ "$size" = 224 ] && echo 256 || echo 512)
  python3 terms_cost.py --device cuda --size "$size" --batch "$batch" \
    --iters "${ITERS:-20}" --warmup "${WARMUP:-10}" --repeats 3 \
    --out-dir "$out" 2>&1 \
    | grep -v "INFO\|Init\|same before\|torch.Size\|^ *$" | tail -12
done
# several teachers (issue 27): one / two online vs two from one cache
python3 multi_teacher_cost.py --device cuda --size 224 --batch 256 \
  --iters "${ITERS:-20}" --warmup "${WARMUP:-10}" --repeats 3 \
  --out-dir "$out" 2>&1 \
  | grep -v "INFO\|Init\|same before\|torch.Size\|^ *$" | tail -8
