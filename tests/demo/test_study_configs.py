"""The evidence study's configs: its arms differ only where they should,
every pre-training config builds its model and reads images safely, and the
frozen readout trains only what it should (so a broken config fails here,
not hours into the study)."""
import os.path as osp

import torch
from mmengine.config import Config

import demo.finetune
from demo.study import arms, design


def test_arm_configs_differ_only_where_they_should():
    cfgs = {
        a['name']: Config.fromfile(osp.join(arms.STUDY_CONFIGS, a['config']))
        for a in design.ARMS if a['config']
    }

    def images(name):
        ds = cfgs[name].train_dataloader.dataset
        return ds.get('ann_file') or 'all', cfgs[name].train_cfg.max_epochs

    for name in ('sup10', 'kdep10', 'logitkd10', 'parametric10', 'nopts10'):
        ann, epochs = images(name)
        assert 'subset' in ann and epochs == 30, name
    for name in ('sup100', 'kdep100'):
        ann, epochs = images(name)
        assert 'subset' not in ann and epochs == 3, name
    assert images('sup100_5x')[1] == 15
    # one student: same architecture and initialisation in every arm
    for name, cfg in cfgs.items():
        bb = cfg.model.backbone
        assert (bb.type, bb.depth, bb.zero_init_residual) == ('ResNet', 18,
                                                              False), name
        opt = cfg.optim_wrapper.optimizer
        assert (opt.lr, opt.momentum, opt.weight_decay) == (0.05, 0.9, 5e-4)
        assert cfg.train_dataloader.batch_size == 64
    assert cfgs['kdep10'].model.align.type == 'SVDPTSAlignment'
    assert cfgs['nopts10'].model.align.use_pts is False
    assert cfgs['parametric10'].model.align.type == 'ParametricAlignment'
    assert cfgs['logitkd10'].model.align.type == 'LogitKDAlignment'
    assert cfgs['logitkd10'].model.teacher_tap.module == 'head.fc'


def test_every_pretraining_config_builds_its_model(tmp_path):
    """Each pre-training config of the study and the demo builds its model
    (a random teacher of the right architecture stands in for the real
    file), so a config key the library no longer takes fails here, not
    hours into the study."""
    import torch
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    from demo.stages import PRETRAIN_CONFIG
    from kdep_mm.utils.misc import build_mmpretrain
    from tests.helpers.tiny import write_fake_manifest
    files = [PRETRAIN_CONFIG] + [
        osp.join(arms.STUDY_CONFIGS, a['config'])
        for a in design.ARMS if a['config']
    ]
    for path in files:
        cfg = Config.fromfile(path)
        model_cfg = cfg.model
        if model_cfg.get('cache'):  # a cache's manifest stands in
            folder = tmp_path / 'cache'
            folder.mkdir(exist_ok=True)
            write_fake_manifest(str(folder), model_cfg)
            model_cfg.cache = str(folder)
            model_cfg.probe_size = 32
        teachers = model_cfg.get('teachers') or (
            [model_cfg.teacher] if 'teacher' in model_cfg else [])
        for i, entry in enumerate(teachers):
            teacher = tmp_path / f'{osp.basename(path)}.{i}.pth'
            torch.save(build_mmpretrain(entry.model).state_dict(), teacher)
            entry.checkpoint = str(teacher)
            entry.prefix = None
            model_cfg.probe_size = 32
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(model_cfg)
        assert model is not None, path


def test_every_pretraining_config_loads_images_safely():
    """A broken image in a pre-training pool is named (with its cause),
    not an OpenCV assertion: every pre-training config of the project, the
    demo's and the study's included, reads images with
    LoadImageFromFileSafe."""
    import glob

    from demo import ROOT
    from demo.stages import PRETRAIN_CONFIG
    files = [PRETRAIN_CONFIG] + [
        osp.join(arms.STUDY_CONFIGS, a['config'])
        for a in design.ARMS if a['config']
    ] + [
        f for f in glob.glob(
            osp.join(ROOT, 'configs', 'kdep', '**', '*.py'), recursive=True)
        if '_base_' not in f
    ]
    for path in files:
        cfg = Config.fromfile(path)
        for loader in ('train_dataloader', 'val_dataloader'):
            if cfg[loader] is None:  # a cached run: no validation
                continue
            pipeline = cfg[loader].dataset.pipeline
            assert pipeline[0].type == 'LoadImageFromFileSafe', (path, loader)


def test_frozen_segmentation_readout_trains_only_neck_and_head():
    """The readout task freezes the whole backbone (stem, four stages,
    BatchNorm statistics): only the FPN and the head can learn."""
    import argparse

    from mmengine.config import DictAction
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    task = demo.finetune.TASKS['segfrozen']
    cfg = Config.fromfile(demo.finetune.task_config(task, False))
    parser = argparse.ArgumentParser()  # as tools/train.py reads them
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg.merge_from_dict(
        parser.parse_args(['--cfg-options'] + task['options']).cfg_options)
    assert design.READOUTS == ('segfrozen', ) and 'segfrozen' in \
        design.DEFAULT_TASKS
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    model.train()
    backbone = [p.requires_grad for p in model.backbone.parameters()]
    assert backbone and not any(backbone)
    assert all(not m.training for m in model.backbone.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    assert any(p.requires_grad for p in model.decode_head.parameters())
    assert any(p.requires_grad for p in model.neck.parameters())
