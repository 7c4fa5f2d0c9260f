#!/usr/bin/env bash
# Creates or refreshes the project's virtual environment, idempotently.
#
#   bash tools/setup_env.sh          # what `make demo` / `make test` run first
#
# * A no-op (a few seconds) when nothing changed: a stamp of the requirement
#   files, this script and the Python version is kept in the venv.
# * mmcv 2.1.0 is built once from source WITH its compiled ops and the wheel
#   is cached outside the checkout, keyed by torch version, Python tag and
#   platform, so every later set-up on this machine reuses it.
# * Every pip step runs under one constraints file (requirements/constraints.txt).
#
# Environment variables (all optional):
#   PYTHON            interpreter used to create the venv (default: python3)
#   KDEP_VENV         venv location (default: <repo>/.venv)
#   KDEP_CACHE_DIR    wheel cache (default: ${XDG_CACHE_HOME:-~/.cache}/kdep_mm)
#   KDEP_TORCH        torch requirement, e.g. "torch==2.11.0" on a CUDA machine
#                     (default: the pin in requirements/constraints.txt)
#   KDEP_TORCHVISION  torchvision requirement matching KDEP_TORCH
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${KDEP_VENV:-$ROOT/.venv}"
CACHE="${KDEP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kdep_mm}"
CONSTRAINTS_SRC="$ROOT/requirements/constraints.txt"
MMCV_VERSION="2.1.0"
STEPS=6

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
step() { printf '\033[1m[setup %s/%s]\033[0m %s\n' "$1" "$STEPS" "$2"; }
die() {
  printf '\033[31m[setup] ERROR:\033[0m %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '        what to do: %s\n' "$2" >&2
  exit 1
}
# pip prints one warning per index entry it cannot find in the local
# mirrors; drop those lines, keep everything else.
quiet_pip() {
  "$VPY" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
  return "${PIPESTATUS[0]}"
}

# ---------------------------------------------------------------- fast path
command -v "$PYTHON" >/dev/null 2>&1 ||
  die "no Python interpreter '$PYTHON' found" "install Python >= 3.8 or set PYTHON=/path/to/python3"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
STAMP_INPUT="$(cat "$CONSTRAINTS_SRC" requirements/runtime.txt requirements/mminstall.txt \
  requirements/tests.txt setup.py tools/setup_env.sh tools/env/kdep_torchvision_cpu.py; echo "$PYVER ${KDEP_TORCH:-} ${KDEP_TORCHVISION:-}")"
STAMP="$(printf '%s' "$STAMP_INPUT" | sha256sum | cut -d' ' -f1)"
VPY="$VENV/bin/python"
if [ -f "$VENV/.kdep_stamp" ] && [ "$(cat "$VENV/.kdep_stamp")" = "$STAMP" ] &&
  "$VPY" -c 'import kdep_mm, mmcv.ops' >/dev/null 2>&1; then
  say "environment up to date ($VENV)"
  exit 0
fi

START=$(date +%s)
# ---------------------------------------------------------------- 1. venv
step 1 "virtual environment at $VENV (Python $PYVER)"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 8)' ||
  die "Python $PYVER is too old" "use Python 3.8 or newer (PYTHON=...)"
if [ ! -x "$VPY" ]; then
  "$PYTHON" -m venv "$VENV" ||
    die "could not create a virtual environment" "install the venv module (Debian: apt-get install python3-venv)"
fi
mkdir -p "$CACHE/wheels"
CONSTRAINTS="$VENV/kdep-constraints.txt"
sed -e "${KDEP_TORCH:+s|^torch==.*|$KDEP_TORCH|}" \
  -e "${KDEP_TORCHVISION:+s|^torchvision==.*|$KDEP_TORCHVISION|}" \
  "$CONSTRAINTS_SRC" >"$CONSTRAINTS"
TORCH_REQ="$(grep -E '^torch([=<>!~ ]|$)' "$CONSTRAINTS")"
TV_REQ="$(grep -E '^torchvision([=<>!~ ]|$)' "$CONSTRAINTS")"
quiet_pip install -q -c "$CONSTRAINTS" 'setuptools<81' wheel ||
  die "pip could not install setuptools/wheel" "check that the package index is reachable"

# ---------------------------------------------------------------- 2. torch
step 2 "PyTorch ($TORCH_REQ)"
if ! "$VPY" - "$TORCH_REQ" <<'PYEOF' >/dev/null 2>&1
import sys
from packaging.requirements import Requirement
import torch
req = Requirement(sys.argv[1])
sys.exit(0 if req.specifier.contains(torch.__version__.split('+')[0]) else 1)
PYEOF
then
  quiet_pip install -q -c "$CONSTRAINTS" "$TORCH_REQ" ||
    die "could not install $TORCH_REQ" "a CPU wheel must be reachable by pip (find-links or index); on a CUDA machine set KDEP_TORCH to the installed version"
fi
TORCH_VER="$("$VPY" -c 'import torch; print(torch.__version__)')"
say "torch $TORCH_VER"

# ---------------------------------------------------------------- 3. mmcv
step 3 "mmcv $MMCV_VERSION with compiled ops"
PYTAG="$("$VPY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
PLAT="$("$VPY" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION/torch-$TORCH_VER/$PYTAG-$PLAT"
mkdir -p "$WHEEL_DIR"
WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  say "mmcv $MMCV_VERSION with ops already installed"
else
  if [ -z "$WHEEL" ]; then
    say "no cached wheel in $WHEEL_DIR: building mmcv from source (once per machine; see the README for the measured time)"
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 ||
      die "no C++ compiler found, needed once to build mmcv's ops" "install one (Debian: apt-get install build-essential) and run again"
    "$VPY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
      die "Python headers (Python.h) not found" "install them (Debian: apt-get install python3-dev)"
    BUILD="$(mktemp -d)"
    quiet_pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD/src" ||
      die "could not download the mmcv $MMCV_VERSION source distribution" "check that PyPI is reachable"
    LOG="$BUILD/build.log"
    # ninja compiles MAX_JOBS sources at once (without it torch's extension
    # builder compiles one at a time); -g0 drops the debug information that
    # Python's own build flags (-g -O3) ask for and that is stripped anyway:
    # about half the compile time, same code (-O3 kept).
    quiet_pip install -q -c "$CONSTRAINTS" ninja ||
      die "pip could not install ninja" "check that the package index is reachable"
    # Python's flags with -g0 (set in full: some build paths replace, not
    # extend, the default flags with CFLAGS).
    OPTFLAGS="$("$VPY" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "-DNDEBUG -O3")') -g0"
    (PATH="$VENV/bin:$PATH" CFLAGS="$OPTFLAGS ${CFLAGS:-}" CXXFLAGS="$OPTFLAGS ${CXXFLAGS:-}" MMCV_WITH_OPS=1 FORCE_CUDA="${FORCE_CUDA:-0}" \
      MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$VPY" -m pip wheel -v --no-build-isolation --no-deps -c "$CONSTRAINTS" \
      -w "$BUILD/dist" "$BUILD"/src/mmcv-*.tar.gz >"$LOG" 2>&1) &
    PID=$!
    TOTAL="$(tar tzf "$BUILD"/src/mmcv-*.tar.gz | grep -cE 'csrc/pytorch/(cpu/)?[^/]+\.cpp$' || true)"
    while kill -0 "$PID" 2>/dev/null; do
      sleep 20
      DONE="$(grep -cE '^\[[0-9]+/[0-9]+\]|(c\+\+|g\+\+|gcc).* -c .*\.cpp' "$LOG" || true)"
      say "  mmcv build: $DONE/~$TOTAL sources compiled, $(($(date +%s) - START)) s elapsed (log: $LOG)"
    done
    wait "$PID" || { tail -n 30 "$LOG" >&2; die "building mmcv failed (log: $LOG)" "read the log above; a missing compiler or headers is the usual cause"; }
    # Drop the debug info: 32 MB -> about 1.5 MB. `wheel pack` rewrites RECORD.
    (cd "$BUILD" && "$VPY" -m wheel unpack -d unpacked dist/mmcv-*.whl >/dev/null &&
      find unpacked -name '*.so' -exec strip --strip-debug {} + 2>/dev/null || true
      "$VPY" -m wheel pack -d "$WHEEL_DIR" unpacked/mmcv-* >/dev/null) ||
      cp "$BUILD"/dist/mmcv-*.whl "$WHEEL_DIR"/
    WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
    rm -rf "$BUILD"
    say "cached $WHEEL"
  else
    say "reusing cached $WHEEL"
  fi
  quiet_pip install -q --no-deps --force-reinstall "$WHEEL" || die "could not install $WHEEL" "delete it and run again to rebuild"
fi

# ---------------------------------------------------------------- 4. stack
step 4 "OpenMMLab packages and runtime requirements"
quiet_pip install -q -c "$CONSTRAINTS" -r requirements/runtime.txt -r requirements/tests.txt \
  -r requirements/mminstall.txt ||
  die "installing the requirements failed" "read pip's message above"
# torchvision: the only wheels for this torch are CUDA builds; installed
# without dependencies so pip never swaps torch (see the shim below).
if ! "$VPY" -m pip show torchvision >/dev/null 2>&1; then
  quiet_pip install -q --no-deps -c "$CONSTRAINTS" "$TV_REQ" ||
    die "could not install $TV_REQ" "set KDEP_TORCHVISION to the version matching your torch"
fi

# An environment shim, only where torchvision's compiled part cannot load
# with this torch (the CPU torch 2.13 + CUDA torchvision wheel): see
# tools/env/kdep_torchvision_cpu.py. A normal install never gets it.
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -f "$SITE/kdep_torchvision_cpu.py" "$SITE/kdep_torchvision_cpu.pth"
if ! "$VPY" - <<'PYEOF' >/dev/null 2>&1
import glob, importlib.util, os.path as osp, sys
import torch
spec = importlib.util.find_spec('torchvision')
libs = [p for loc in spec.submodule_search_locations
        for p in glob.glob(osp.join(loc, '_C.*so'))]
torch.ops.load_library(libs[0])
PYEOF
then
  cp tools/env/kdep_torchvision_cpu.py "$SITE/"
  echo 'import kdep_torchvision_cpu; kdep_torchvision_cpu.install()' >"$SITE/kdep_torchvision_cpu.pth"
  say "torchvision's compiled ops do not load with torch $TORCH_VER: installed the CPU op-schema shim (tools/env/kdep_torchvision_cpu.py)"
fi

# ---------------------------------------------------------------- 5. kdep_mm
step 5 "kdep_mm (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e . ||
  die "pip install -e . failed" "read pip's message above"

# ---------------------------------------------------------------- 6. check
step 6 "import check"
"$VPY" - <<'PYEOF' || die "the environment does not import" "see the traceback above"
import kdep_mm  # noqa: F401
import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models  # noqa
import torch
print('[setup] torch %s, mmcv %s, mmdet %s, mmseg %s, mmpretrain %s, kdep_mm %s' % (
    torch.__version__, mmcv.__version__, __import__('mmdet').__version__,
    __import__('mmseg').__version__, __import__('mmpretrain').__version__,
    kdep_mm.__version__))
PYEOF
echo "$STAMP" >"$VENV/.kdep_stamp"
say "done in $(($(date +%s) - START)) s; venv: $(du -sh "$VENV" | cut -f1), wheel cache: $(du -sh "$CACHE" | cut -f1)"
