"""The arguments tools/train.py and tools/test.py share
(``kdep_mm.utils.cli``): ``--cfg-options`` with mmengine's standard
semantics (each key sets exactly that key), the work directory, the data
loader workers."""
import sys

import pytest
from mmengine.config import Config

import tools.train as train_tool

CONFIG = '''
checkpoint = 'checkpoints/old.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_root = 'data/demo'
model = dict(
    backbone=dict(
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    head=dict(norm_cfg=norm_cfg))
train_dataloader = dict(
    num_workers=2, dataset=dict(data_root=data_root + '/pool'))
val_dataloader = dict(num_workers=0, dataset=dict(data_root=data_root))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
'''


def flat(obj, prefix=''):
    """``{'a.b.c': value}`` of a nested dict."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / 'cfg_demo.py'
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture
def resolve(config_file, monkeypatch):
    """``resolve(*argv)``: the config as ``tools/train.py CONFIG *argv``
    hands it to the Runner (its own parser and merge), flattened."""
    monkeypatch.setenv('LOCAL_RANK', '0')

    def run(*argv):
        monkeypatch.setattr(sys, 'argv',
                            ['tools/train.py', config_file, *argv])
        args = train_tool.parse_args()
        cfg = train_tool.merge_args(Config.fromfile(config_file), args)
        return flat(cfg.to_dict())

    return run


def changed(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {
        k: after.get(k)
        for k in sorted(keys) if before.get(k) != after.get(k)
    }


def test_an_explicit_key_changes_exactly_that_key(resolve):
    base = resolve()
    after = resolve('--cfg-options',
                    'model.backbone.init_cfg.checkpoint=/new/student.pth')
    assert changed(base, after) == {
        'model.backbone.init_cfg.checkpoint': '/new/student.pth'
    }
    assert after['checkpoint'] == 'checkpoints/old.pth'
    after = resolve('--cfg-options', 'model.backbone.norm_cfg.type=BN',
                    'model.head.norm_cfg.type=BN')
    assert changed(base, after) == {
        'model.backbone.norm_cfg.type': 'BN',
        'model.head.norm_cfg.type': 'BN'
    }


def test_a_top_level_variable_changes_only_itself(resolve):
    """The model holds copies of ``checkpoint`` / ``norm_cfg`` /
    ``data_root`` made when the file was read: overriding the variable
    leaves them as they are (name the explicit keys to change them)."""
    base = resolve()
    after = resolve('--cfg-options', 'checkpoint=/new/student.pth')
    assert changed(base, after) == {'checkpoint': '/new/student.pth'}
    assert after['model.backbone.init_cfg.checkpoint'] == \
        'checkpoints/old.pth'
    after = resolve('--cfg-options', 'norm_cfg.type=BN')
    assert changed(base, after) == {'norm_cfg.type': 'BN'}
    after = resolve('--cfg-options', 'data_root=/abs/root')
    assert changed(base, after) == {'data_root': '/abs/root'}
    assert after['train_dataloader.dataset.data_root'] == 'data/demo/pool'


def test_work_dir(resolve, config_file, tmp_path):
    assert resolve()['work_dir'] == './work_dirs/cfg_demo'
    assert resolve('--work-dir', 'elsewhere')['work_dir'] == 'elsewhere'
    with open(config_file, 'a') as f:
        f.write("work_dir = 'from_the_config'\n")
    assert resolve()['work_dir'] == 'from_the_config'
    assert resolve('--work-dir', 'x')['work_dir'] == 'x'


def test_launcher_and_workers(resolve):
    cfg = resolve()
    assert cfg['launcher'] == 'none'
    # workers are kept alive between epochs where there are workers
    assert cfg['train_dataloader.persistent_workers'] is True
    assert cfg['val_dataloader.persistent_workers'] is False
    cfg = resolve('--no-persistent-workers', '--launcher', 'pytorch')
    assert cfg['train_dataloader.persistent_workers'] is False
    assert cfg['launcher'] == 'pytorch'
    # --cfg-options comes last and wins
    cfg = resolve('--cfg-options', 'train_dataloader.persistent_workers=False')
    assert cfg['train_dataloader.persistent_workers'] is False
