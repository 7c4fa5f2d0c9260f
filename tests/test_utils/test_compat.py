"""kdep_mm.compat: nothing runs on ``import kdep_mm``; the shims that the
project's tools apply (``prepare_run``) do what they say; the torchvision
environment shim's NMS is torchvision's NMS.

The import and checkpoint checks run in fresh processes: this one has the
shims applied already (tests/conftest.py)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from kdep_mm.compat import prepare_run, setup_cpu_distributed
from tests.helpers.launch import free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHIM = osp.join(ROOT, 'tools', 'env', 'kdep_torchvision_cpu.py')


def run_python(code: str, **env) -> str:
    """Run ``code`` in a fresh interpreter (this checkout's kdep_mm)."""
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT, **env),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_import_kdep_mm_changes_nothing():
    out = run_python('''
import mmengine.dist.utils as du
import mmengine.runner, mmpretrain.models  # noqa  (what kdep_mm imports)
import torch
from mmengine.logging import HistoryBuffer
before = (HistoryBuffer.__dict__.get('__getstate__'), du._init_dist_pytorch,
          list(torch.serialization.get_safe_globals()))
import kdep_mm, kdep_mm.compat  # noqa
import kdep_mm.engine, kdep_mm.models, kdep_mm.utils.checkpoint  # noqa
after = (HistoryBuffer.__dict__.get('__getstate__'), du._init_dist_pytorch,
         list(torch.serialization.get_safe_globals()))
assert kdep_mm.__file__.startswith(%r), kdep_mm.__file__
print('getstate', before[0] is after[0])
print('init_dist', before[1] is after[1])
print('safe_globals', before[2] == after[2])
print('history_buffer_allowed', HistoryBuffer in after[2])
''' % ROOT)
    assert out.split('\n')[:4] == [
        'getstate True', 'init_dist True', 'safe_globals True',
        'history_buffer_allowed False'
    ], out


# A toy Runner writes a checkpoint; each phase says whether torch's
# weights-only load reads it.
RUNNER_CHECKPOINTS = '''
import pickle, sys
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from kdep_mm.compat import (allow_mmengine_checkpoints,
                            write_loadable_checkpoints)


class Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.lin(torch.stack(inputs)).pow(2).mean())


def checkpoint(work_dir):
    data = [dict(inputs=torch.randn(4)) for _ in range(8)]
    Runner(model=Model(), work_dir=work_dir,
           train_dataloader=dict(dataset=data, batch_size=4,
                                 sampler=dict(type='DefaultSampler')),
           optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
           train_cfg=dict(by_epoch=False, max_iters=1),
           default_hooks=dict(checkpoint=dict(
               type='CheckpointHook', interval=1, by_epoch=False))).train()
    return work_dir + '/iter_1.pth'


def loads(path):
    try:
        torch.load(path, weights_only=True)
        return 'loads'
    except pickle.UnpicklingError:
        return 'refused'


plain = checkpoint(sys.argv[1] + '/plain')
print('plain', loads(plain))
write_loadable_checkpoints()
written = checkpoint(sys.argv[1] + '/written')
print('written', loads(written))
allow_mmengine_checkpoints()
print('written+allowed', loads(written))
print('plain+allowed', loads(plain))
'''


def test_shims_make_runner_checkpoints_load_weights_only(tmp_path):
    """Both are needed: mmengine's checkpoints pickle numpy and
    HistoryBuffer objects (allow_mmengine_checkpoints lets exactly those
    through) and HistoryBuffer's statistics methods (which
    write_loadable_checkpoints stops writing)."""
    proc = subprocess.run(
        [sys.executable, '-c', RUNNER_CHECKPOINTS,
         str(tmp_path)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = dict(line.split() for line in proc.stdout.split('\n')
                   if line.split()[:1] in (['plain'], ['written'],
                                           ['written+allowed'],
                                           ['plain+allowed']))
    assert results == {
        'plain': 'refused',
        'written': 'refused',
        'written+allowed': 'loads',
        'plain+allowed': 'refused',
    }, proc.stdout


def test_setup_cpu_distributed_only_for_the_pytorch_launcher(monkeypatch):
    cfg = Config(dict(launcher='none', model=dict(type='X')))
    before = cfg.to_dict()
    assert setup_cpu_distributed(cfg) is False
    assert cfg.to_dict() == before and 'model_wrapper_cfg' not in cfg
    prepare_run(cfg)  # the tools' entry point: the same for this cfg
    assert cfg.to_dict() == before
    assert not torch.distributed.is_initialized()
    # With CUDA, mmengine's own launcher path is used: nothing is set.
    cfg = Config(dict(launcher='pytorch', model=dict(type='X')))
    before = cfg.to_dict()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert setup_cpu_distributed(cfg) is False
    assert cfg.to_dict() == before
    assert not torch.distributed.is_initialized()


def test_setup_cpu_distributed_without_cuda():
    """launcher='pytorch' on a CPU machine: a gloo process group, and the
    DDP wrapper without device ids (other wrapper settings kept)."""
    out = run_python(
        '''
import torch
import torch.distributed as dist
from mmengine.config import Config
from kdep_mm.compat import setup_cpu_distributed
torch.cuda.is_available = lambda: False
cfg = Config(dict(launcher='pytorch',
                  model_wrapper_cfg=dict(find_unused_parameters=True)))
print(setup_cpu_distributed(cfg))
print(dist.is_initialized(), dist.get_backend(), dist.get_world_size())
print(sorted(cfg.model_wrapper_cfg.items()))
print(setup_cpu_distributed(cfg))  # again: the group already exists
dist.destroy_process_group()
''',
        RANK='0',
        WORLD_SIZE='1',
        LOCAL_RANK='0',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(free_port()))
    lines = out.split('\n')
    assert lines[0] == 'True'
    assert lines[1] == 'True gloo 1'
    assert lines[2] == str(
        sorted(
            dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=True,
                device_ids=None).items()))
    assert lines[3] == 'True'


@pytest.fixture(scope='module')
def shim():
    """tools/env/kdep_torchvision_cpu.py, the file in this checkout (not
    the copy tools/setup_env.sh may have installed)."""
    spec = importlib.util.spec_from_file_location('kdep_torchvision_cpu_src',
                                                  SHIM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_torchvision_shim_nms_hand_example(shim):
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]])
    # box 1 overlaps box 0 with IoU 81 / 100
    keep = shim._nms_cpu(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2] and keep.dtype == torch.long
    # the higher score wins; the result is in decreasing score order
    keep = shim._nms_cpu(boxes, torch.tensor([0.8, 0.9, 0.95]), 0.5)
    assert keep.tolist() == [2, 1]
    keep = shim._nms_cpu(boxes, torch.tensor([0.8, 0.9, 0.95]), 0.85)
    assert keep.tolist() == [2, 1, 0]  # 0.81 is below this threshold
    empty = shim._nms_cpu(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.shape == (0, ) and empty.dtype == torch.long


def test_torchvision_shim_nms_equals_mmcv(shim):
    from mmcv.ops import nms
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1)
    scores = torch.rand(60, generator=g)
    for thr in (0.3, 0.5, 0.7):
        _, ref = nms(boxes, scores, iou_threshold=thr)
        assert shim._nms_cpu(boxes, scores, thr).tolist() == ref.tolist()


def test_torchvision_nms_op_works_here(shim):
    """Whatever defines ``torchvision::nms`` in this environment
    (torchvision's compiled ops, or the installed shim), torchvision
    imports and the op gives the same result; the shim then defines nothing
    again."""
    import torchvision  # noqa: F401
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    keep = torch.ops.torchvision.nms(boxes, scores, 0.5)
    assert keep.tolist() == [0, 2]
    assert shim.define_schemas() is False
