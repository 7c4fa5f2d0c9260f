"""KDEP pre-training through tools/train.py (``--amp`` too) and
tools/dist_train.sh."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import torch

from kdep_mm.utils.checkpoint import (get_state_dict, load_state_dict_strict,
                                      load_weights)
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.launch import run_launcher
from tests.helpers.tiny import ROOT as REPO
from tests.helpers.tiny import run_tool


def _losses(work_dir):
    path = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [(r['epoch'], r['loss']) for r in rows if 'loss' in r]


def test_train_writes_basis_lowers_loss_and_reuses_basis(
        tmp_path, image_folder, r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=4)
    work = str(tmp_path / 'run1')
    out = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    basis_file = osp.join(work, 'kdep_basis.pth')
    assert osp.isfile(basis_file)
    assert 'KDEP basis written to' in out
    losses = _losses(work)
    first = [v for e, v in losses if e == 1]
    last = [v for e, v in losses if e == 4]
    assert sum(last) / len(last) < sum(first) / len(first), losses

    # The checkpoint holds no teacher; its backbone loads strictly into
    # mmdet's and mmseg's ResNet-18.
    ckpt = load_weights(osp.join(work, 'epoch_4.pth'))
    assert not any(k.startswith('teacher') for k in ckpt['state_dict'])
    backbone = get_state_dict(ckpt, prefix='backbone.')
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    for registry in (DET_MODELS, SEG_MODELS):
        net = registry.build(dict(type='ResNet', depth=18))
        load_state_dict_strict(net, backbone, source='kdep checkpoint')
        for k, v in net.state_dict().items():
            assert torch.equal(v, backbone[k]), k

    # A second run reuses the basis file instead of recomputing it.
    work2 = str(tmp_path / 'run2')
    out2 = run_tool([
        sys.executable, 'tools/train.py', cfg, '--work-dir', work2,
        '--cfg-options', f'model.basis_file={basis_file}',
        'train_cfg.max_epochs=1'
    ])
    assert 'KDEP basis loaded from' in out2
    assert 'not recomputing' in out2
    assert 'teacher features of' not in out2
    assert not osp.exists(osp.join(work2, 'kdep_basis.pth'))


def test_dist_train_two_cpu_processes(tmp_path, image_folder, r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'),
        image_folder,
        r34_teacher,
        epochs=1,
        batch=4)
    work = str(tmp_path / 'dist')
    rc, out = run_launcher(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work],
        cwd=REPO,
        log=str(tmp_path / 'dist.log'))
    assert rc == 0, out[-5000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert 'Distributed training: True' in out
    # 24 images / (2 ranks x batch 4) = 3 iterations per epoch.
    assert 'Epoch(train) [1][3/3]' in out


def test_train_py_amp_channels_last(tmp_path, image_folder, r34_teacher):
    """``tools/train.py --amp`` on the real KDEP config (shrunk), with
    ``model.channels_last=True`` from the config: bf16 on CPU, finite
    losses that go down."""
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'),
        image_folder,
        r34_teacher,
        epochs=3,
        model_extra=', channels_last=True')
    work = str(tmp_path / 'work')
    run_tool(
        [sys.executable, 'tools/train.py', cfg, '--amp', '--work-dir', work])
    dumped = glob.glob(osp.join(work, '*', 'vis_data', 'config.py'))[0]
    text = open(dumped).read()
    assert "type='MixedPrecisionOptimWrapper'" in text
    assert 'channels_last=True' in text
    losses = _losses(work)
    assert all(torch.isfinite(torch.tensor([v for _, v in losses])))
    first = [v for e, v in losses if e == 1]
    last = [v for e, v in losses if e == 3]
    assert sum(last) / len(last) < sum(first) / len(first), losses


def test_resume_from_a_truncated_checkpoint_is_refused_by_name(
        tmp_path, image_folder, r34_teacher):
    """``--resume`` of a half-written checkpoint stops before any work with
    the file's name and what to do, not a bare zip-reader error."""
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    bad = tmp_path / 'epoch_3.pth'
    bad.write_bytes(b'PK\x03\x04' + b'\0' * 500)  # a zip that ends early
    work = tmp_path / 'run'
    proc = subprocess.run([
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(work), '--resume',
        str(bad)
    ],
                          cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert f'cannot resume from {bad}' in proc.stderr
    assert 'damaged or truncated (504 bytes)' in proc.stderr
    assert not osp.exists(osp.join(str(work), 'kdep_basis.pth'))
