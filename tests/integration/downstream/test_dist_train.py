"""`bash tools/dist_train.sh <downstream config> 2`: two CPU processes."""
import glob
import os.path as osp

from mmengine.config import Config

from tests.helpers.config_keys import student_options
from tests.helpers.downstream_data import make_ade20k
from tests.helpers.launch import run_launcher
from tests.helpers.tiny import ROOT as REPO
from tests.helpers.tiny import config_path


def test_dist_train_two_cpu_processes(exported, tmp_path):
    data = make_ade20k(str(tmp_path / 'ade'), num_images=4)
    base = config_path('mmseg/pspnet_kdep-r18-d8_4xb4-160k_ade20k-512x512.py')
    # the real config, pointed at the tiny dataset and made small
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(f'''
_base_ = {base!r}
data_root = {data!r}
size = (64, 64)
model = dict(data_preprocessor=dict(size=size))
_pipe = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=size, ratio_range=(1.0, 1.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=_pipe))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=[
                          dict(type='LoadImageFromFile'),
                          dict(type='Resize', scale=size, keep_ratio=True),
                          dict(type='LoadAnnotations', reduce_zero_label=True),
                          dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
param_scheduler = None
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, by_epoch=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
''')
    # The student file and plain BN (SyncBN needs GPUs), at the explicit
    # keys: mmengine's --cfg-options sets exactly the keys it is given.
    student = exported('resnet18')
    options = {
        'model.backbone.init_cfg.checkpoint': student,
        'model.backbone.norm_cfg.type': 'BN',
        'model.decode_head.norm_cfg.type': 'BN',
        'model.auxiliary_head.norm_cfg.type': 'BN',
    }
    # ... which are all the keys that hold them in the resolved config
    # (the top-level `norm_cfg` variable is read by nothing any more).
    expected = student_options(Config.fromfile(str(cfg)), student)
    assert dict(options, **{'norm_cfg.type': 'BN'}) == expected
    rc, log = run_launcher(
        [
            'bash',
            osp.join(REPO, 'tools', 'dist_train.sh'),
            str(cfg), '2', '--work-dir',
            str(tmp_path / 'work'), '--cfg-options'
        ] + [f'{k}={v}' for k, v in options.items()],
        cwd=REPO,
        log=str(tmp_path / 'dist.log'))
    assert rc == 0, log[-4000:]
    assert 'mIoU' in log
    assert glob.glob(str(tmp_path / 'work' / 'iter_2.pth'))
