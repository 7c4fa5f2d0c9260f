"""Two processes (gloo, ``tools/dist_train.sh``) agree: the basis is
identical on both ranks and equal to the single-process one on the same
images; the student's parameters stay identical across ranks; only rank 0
writes files."""
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from kdep_mm.basis.fit import collect_statistics
from tests.helpers.launch import free_port
from tests.helpers.tiny import (FIXED_PIPELINE, ROOT, finish, start_tool,
                                write_config)

EXTRA = FIXED_PIPELINE + """
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1))
log_processor = dict(by_epoch=False)
custom_hooks = [
    dict(type='KDEPBasisHook'),
    dict(type='KDEPExportHook'),
    dict(type='KDEPRandomStateHook'),
    dict(type='KDEPCheckInvalidLossHook'),
    dict(type='KDEPTestFaultHook'),
]
"""


def single_process_basis(cfg_file):
    """The basis hook's statistics (:func:`kdep_mm.basis.fit_basis`'s
    pass) over the same images in this process."""
    cfg = Config.fromfile(cfg_file)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    stats = collect_statistics(
        model, loader, logger=MMLogger.get_current_instance())
    return stats['pooled'].decompose()


def test_two_processes_agree(tiny_setup, tmp_path):
    cfg = write_config(
        str(tmp_path / 'dist.py'),
        tiny_setup['images'],
        tiny_setup['teacher'],
        extra=EXTRA)
    work_dir, dumps = str(tmp_path / 'work'), str(tmp_path / 'dumps')
    os.makedirs(dumps)
    log = str(tmp_path / 'dist.log')
    proc = start_tool([
        'bash',
        osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
        work_dir
    ],
                      log,
                      env=dict(
                          PORT=str(free_port()),
                          KDEP_FAULT_DUMP_DIR=dumps,
                          KDEP_FAULT_RECORD_WRITES=dumps))
    single = single_process_basis(cfg)  # meanwhile, in this process
    rc, out = finish(proc, log)
    assert rc == 0, out[-4000:]

    r0 = torch.load(osp.join(dumps, 'rank0.pth'), weights_only=True)
    r1 = torch.load(osp.join(dumps, 'rank1.pth'), weights_only=True)
    # The basis: bit-identical on both ranks (rank 0's is broadcast) ...
    for key in ('mean', 'basis', 'spectrum'):
        assert torch.equal(r0[key], r1[key]), key
    assert r0['num_images'] == r1['num_images'] == 16
    # ... and the single-process one up to float rounding (the sums are
    # float64, reduced in another order).
    rank = int((single['spectrum'] > 1e-4 * single['spectrum'][0]).sum())
    assert rank >= 8
    torch.testing.assert_close(r0['mean'], single['mean'])
    torch.testing.assert_close(
        r0['spectrum'][:rank], single['spectrum'][:rank], rtol=1e-4, atol=1e-6)
    # Well-separated leading directions: the same vectors (signs are
    # fixed by the decomposition).
    top = 8
    torch.testing.assert_close(
        r0['basis'][:, :top], single['basis'][:, :top], rtol=0, atol=1e-3)

    # The student's parameters after two DDP steps: identical on both
    # ranks. (BatchNorm running statistics are per rank between steps, as
    # in any DDP run without SyncBN; checkpoints hold rank 0's.)
    model = MODELS.build(Config.fromfile(cfg).model)
    params = {n for n, _ in model.backbone.named_parameters()}
    assert params and params <= set(r0['backbone'])
    for name in params:
        assert torch.equal(r0['backbone'][name], r1['backbone'][name]), name

    # Only rank 0 writes into the work directory.
    with open(osp.join(dumps, 'writes_rank1.txt')) as f:
        rank1 = [p for p in f.read().split('\n') if p]
    assert not [p for p in rank1 if p.startswith(work_dir)], rank1
    with open(osp.join(dumps, 'writes_rank0.txt')) as f:
        rank0 = f.read()
    assert osp.join(work_dir, 'kdep_basis.pth') in rank0
    assert osp.join(work_dir, 'iter_2.pth') in rank0
    files = os.listdir(work_dir)
    assert 'kdep_basis.pth' in files and 'iter_2.pth' in files
    assert any(
        f.endswith('.pth') and f.startswith('kdep_') and f != 'kdep_basis.pth'
        for f in files), files  # the export
