"""``pip install .`` (not editable) into a fresh virtual environment works.

The wheel is built from a copy of what the package ships, installed with
``--no-deps`` into a new venv whose dependencies come from the project's
environment (a path line, so none of its ``.pth`` hooks run and the
editable kdep_mm is invisible), and a tiny KDEP pre-training runs from the
installed package alone in a folder outside the repository.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHIPPED = ('setup.py', 'README.md', 'requirements', 'kdep_mm')

SCRIPT = r'''
import os.path as osp, sys
import torch
import kdep_mm
from mmengine.config import Config
from mmengine.runner import Runner
from kdep_mm.utils.misc import build_mmpretrain

repo, work = sys.argv[1], sys.argv[2]
assert not kdep_mm.__file__.startswith(repo), kdep_mm.__file__
assert 'site-packages' in kdep_mm.__file__, kdep_mm.__file__
import importlib.util
assert importlib.util.find_spec('kdep_mm.demo') is None
teacher = osp.join(work, 'teacher.pth')
torch.manual_seed(0)
torch.save(build_mmpretrain(dict(type='ResNet', depth=18)).state_dict(),
           teacher)
pipeline = [dict(type='LoadImageFromFileSafe'),
            dict(type='RandomResizedCrop', scale=32), dict(type='PackInputs')]
cfg = Config(dict(
    default_scope='mmpretrain',
    work_dir=osp.join(work, 'run'),
    model=dict(type='KDEP', backbone=dict(type='ResNet', depth=18),
               teacher=dict(model=dict(type='ResNet', depth=18),
                            checkpoint=teacher), probe_size=32),
    train_dataloader=dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='KDEPImageDataset',
                     data_root=osp.join(work, 'images'), ann_file='',
                     data_prefix='', with_label=False, pipeline=pipeline)),
    train_cfg=dict(by_epoch=True, max_epochs=1),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
    custom_hooks=[dict(type='KDEPBasisHook'), dict(type='KDEPExportHook')],
    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
    randomness=dict(seed=0)))
runner = Runner.from_cfg(cfg)
runner.train()
exported = [h.exported for h in runner.hooks if hasattr(h, 'exported')][0]
state = torch.load(exported[-1], weights_only=True)['state_dict']
assert len(state) == len(runner.model.backbone.state_dict())
print('INSTALLED-OK', kdep_mm.__file__, exported[-1])
'''


@pytest.mark.timeout(600)
def test_wheel_installs_and_pretrains(tmp_path, image_folder):
    src = tmp_path / 'src'
    src.mkdir()
    for name in SHIPPED:
        if osp.isdir(osp.join(REPO, name)):
            shutil.copytree(
                osp.join(REPO, name),
                src / name,
                ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy(osp.join(REPO, name), src / name)
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
        '--no-build-isolation', '-w',
        str(tmp_path / 'dist'),
        str(src)
    ],
                   check=True)
    wheel, = os.listdir(tmp_path / 'dist')
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    py = str(venv / 'bin' / 'python')
    subprocess.run([
        py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index',
        str(tmp_path / 'dist' / wheel)
    ],
                   check=True)
    site = subprocess.run([
        py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    ],
                          check=True,
                          capture_output=True,
                          text=True).stdout.strip()
    deps = sysconfig.get_paths()['purelib']
    with open(osp.join(site, 'project_deps.pth'), 'w') as f:
        f.write(deps + '\n')
    # The environment shim that tools/setup_env.sh installs on this
    # machine (only where torchvision's compiled ops cannot load).
    for name in ('kdep_torchvision_cpu.py', 'kdep_torchvision_cpu.pth'):
        if osp.exists(osp.join(deps, name)):
            shutil.copy(osp.join(deps, name), site)
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copytree(image_folder, work / 'images')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(
        [py, '-c', SCRIPT, REPO, str(work)],
        cwd=str(work),
        env=env,
        capture_output=True,
        text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'INSTALLED-OK' in proc.stdout
    assert osp.join(site, 'kdep_mm') in proc.stdout
