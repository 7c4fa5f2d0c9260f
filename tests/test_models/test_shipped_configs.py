"""Every shipped KDEP pre-training config (configs/kdep, the demo's and the
study's) builds the one distiller with the terms its spelling names and
computes a finite loss: pooled, dense, pooled + dense, cached, cached
pooled + dense and two teachers. Teachers get random weights of their own
architecture (ResNet, MobileNetV2 and timm's here; the other teachers'
taps are tested family by family in test_taps_families.py), caches a
manifest of the right columns."""
import glob
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from kdep_mm.models import KDEP
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.datagen import save_backbone
from tests.helpers.tiny import ROOT, set_random_basis, write_fake_manifest

CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'kdep', '*.py')) +
    glob.glob(osp.join(ROOT, 'demo', 'configs', 'pretrain', '*.py')) +
    glob.glob(osp.join(ROOT, 'demo', 'configs', 'study', '*.py')))
SERVED = ('ResNet', 'MobileNetV2', 'TIMMBackbone')


def _teachers(model: dict) -> list:
    """The model's teacher dicts (``teacher=`` or ``teachers=``)."""
    return model.get('teachers') or ([model['teacher']]
                                     if model.get('teacher') else [])


def _model_cfg(path):
    model = Config.fromfile(path).model.to_dict()
    if model.get('type') not in ('KDEP', 'DenseKDEP', 'CachedKDEP'):
        return None
    if any(t['model'].get('type') not in SERVED for t in _teachers(model)):
        return None
    return model


KDEP_CONFIGS = [c for c in CONFIGS if _model_cfg(c) is not None]


@pytest.mark.parametrize(
    'path', KDEP_CONFIGS, ids=[osp.basename(c) for c in KDEP_CONFIGS])
def test_a_shipped_config_builds_the_one_distiller(path, tmp_path):
    cfg = _model_cfg(path)
    cfg['probe_size'] = 64
    cfg.pop('basis_file', None)
    columns = None
    for i, t in enumerate(_teachers(cfg)):
        t['checkpoint'] = save_backbone(
            dict(t['model']), str(tmp_path / f'teacher{i}.pth'))
        t['prefix'] = None
    if cfg.get('cache'):
        cfg['cache'] = str(tmp_path)
        columns = write_fake_manifest(str(tmp_path), cfg)
    with warnings.catch_warnings():  # rank / width notes of random weights
        warnings.simplefilter('ignore')
        model = build_mmpretrain(cfg)
        for i, align in enumerate(model.basis_slots().values()):
            set_random_basis(align, seed=i)
    assert isinstance(model, KDEP) and model.terms
    samples = None
    if columns is not None:
        assert model.teacher is None
        samples = []
        for _ in range(2):
            samples.append(DataSample())
            samples[-1].set_field(
                {
                    n:
                    np.random.randn(c['dim'], *(c.get('grid') or [])).astype(
                        np.float16)
                    for n, c in columns.items()
                }, 'kdep_target')
    model.train()
    losses = model.loss(torch.rand(2, 3, 64, 64) * 255, samples)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    names = {t.name for t in model.terms}
    keys = {'loss'} if names == {'pooled'} else {f'loss_{n}' for n in names}
    keys |= {f'share_{t.name}' for t in model.teachers_list if t.name}
    assert set(losses) == keys
