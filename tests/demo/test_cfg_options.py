"""The ``--cfg-options`` of the demo and the study name every key that
holds a copy of a config variable (mmengine sets only the keys it is
given): a moved data root or a chosen backbone file leaves no copy of the
config's default behind."""
import argparse
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from demo import cfg_options, finetune, stages
from demo.study import arms, design

ROOT = '/elsewhere/demo'
STUDENT = '/elsewhere/student.pth'


def resolved(config, options):
    """The config as ``tools/train.py CONFIG --cfg-options OPTIONS`` sees
    it (the same parsing, mmengine's merge)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(
        parser.parse_args(['--cfg-options'] + options).cfg_options)
    return cfg.to_dict()


def strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings(v)


def pretrain_configs():
    for teacher in cfg_options.TEACHERS:
        yield (f'demo_{teacher}', stages.pretrain_config(teacher),
               dict(kind='kdep', teacher=teacher))
    for arm in design.ARMS:
        if arm['config']:
            yield (arm['name'], osp.join(arms.STUDY_CONFIGS,
                                         arm['config']), arm)


@pytest.mark.parametrize('name,config,arm', list(pretrain_configs()))
def test_data_root_reaches_every_copy(name, config, arm):
    kind = arm['kind']
    default = Config.fromfile(config).data_root
    options = arms.pretrain_options(arm, ROOT, quick=False)
    cfg = resolved(config, options)
    left = [s for s in strings(cfg) if s.startswith(default)]
    assert not left, (name, left)
    assert cfg['data_root'] == ROOT
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if kind == 'cached' and loader != 'train_dataloader':
            assert cfg[loader] is None  # no teacher to validate against
            continue
        assert cfg[loader]['dataset']['data_root'] == ROOT + '/pool', name
    if kind == 'cached':
        assert 'teacher' not in cfg['model']
    elif kind == 'kdep' and isinstance(arm.get('teacher'), tuple):
        assert [t['checkpoint'] for t in cfg['model']['teachers']] == [
            f"{ROOT}/{cfg_options.TEACHERS[t]['file']}" for t in arm['teacher']
        ]
    elif kind == 'kdep':
        teacher = cfg_options.TEACHERS[arm.get('teacher', 'mobilenetv2')]
        assert cfg['model']['teacher']['checkpoint'] == \
            f"{ROOT}/{teacher['file']}"
    else:
        assert cfg['test_dataloader']['dataset']['classes'] == \
            ROOT + '/pool/meta/classes.txt'
    # --quick: the test loader (a copy of val's) gets the same subset
    quick = resolved(config, arms.pretrain_options(arm, ROOT, quick=True))
    assert quick['test_dataloader'] == quick['val_dataloader'], name
    if kind != 'cached':
        assert quick['val_dataloader']['dataset']['indices'] == 100
    assert quick['train_dataloader']['dataset']['indices'] == 64


@pytest.mark.parametrize('task', sorted(finetune.TASKS))
def test_checkpoint_reaches_the_backbone(task):
    config = finetune.task_config(finetune.TASKS[task], pretrained=True)
    default = Config.fromfile(config).checkpoint
    cfg = resolved(config, cfg_options.checkpoint_options(STUDENT))
    assert default not in list(strings(cfg)), task
    assert cfg['model']['backbone']['init_cfg']['checkpoint'] == STUDENT
    assert cfg['checkpoint'] == STUDENT
