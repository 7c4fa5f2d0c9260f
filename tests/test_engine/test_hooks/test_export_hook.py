"""KDEPExportHook: metadata in checkpoints, an exported file at the end."""
import logging
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from kdep_mm.engine.hooks import KDEPExportHook
from kdep_mm.utils.export import build_student


class _FakeKDEP(nn.Module):

    def __init__(self):
        super().__init__()
        self.student_cfg = dict(type='ResNet', depth=18)
        self.backbone = build_student(self.student_cfg)
        self.align = nn.Linear(2, 2)

    def kdep_meta(self):  # as KDEP.kdep_meta()
        return dict(
            student=self.student_cfg,
            student_tap='auto',
            teacher=dict(
                model=dict(type='ResNet', depth=50),
                checkpoint='t.pth',
                prefix=None,
                fingerprint='ab' * 8,
                tap='auto',
                width=2048),
            align='SVDPTS')


def _runner(model, work_dir):
    return SimpleNamespace(
        model=model,
        work_dir=str(work_dir),
        epoch=3,
        iter=30,
        logger=logging.getLogger('test'))


def test_hook_exports(tmp_path):
    model = _FakeKDEP()
    runner = _runner(model, tmp_path)
    hook = KDEPExportHook(export_every_checkpoint=True)
    hook.before_run(runner)
    ckpt = dict(meta=dict(epoch=1, iter=10), state_dict=model.state_dict())
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['kdep']['teacher']['fingerprint'] == 'ab' * 8
    assert len(hook.exported) == 1
    hook.after_train(runner)
    assert len(hook.exported) == 2
    path = hook.exported[-1]
    assert osp.dirname(path) == str(tmp_path)
    assert osp.basename(path).startswith('kdep_resnet18_from_resnet50-')
    obj = torch.load(path, weights_only=True)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(obj['state_dict'][k], v)
    assert obj['meta']['export']['epoch'] == 3


def test_hook_refuses_non_kdep_model(tmp_path):
    with pytest.raises(TypeError, match='kdep_meta'):
        KDEPExportHook().before_run(_runner(nn.Linear(1, 1), tmp_path))
