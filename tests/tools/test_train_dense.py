"""Dense KDEP end to end: the real pooled+dense and dense-only configs
(shrunk) through tools/train.py, --resume and tools/dist_train.sh; the
exported student loads strictly into the mmdet and mmseg configs of
``configs/``."""
import glob
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config

from kdep_mm.basis.io import STAGES_FORMAT
from kdep_mm.utils.checkpoint import load_weights
from tests.helpers.config_keys import build_initialised
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.launch import run_launcher
from tests.helpers.tiny import ROOT as REPO
from tests.helpers.tiny import config_path, run_tool

POOLED_DENSE = config_path(
    'kdep/kdep-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py')
DENSE = config_path('kdep/kdep-dense_r50-r18_4xb128-90e_in1k-10pct.py')
STAGES = ('dense_s8', 'dense_s16', 'dense_s32')


def _stage_state(ckpt: str) -> dict:
    state = load_weights(ckpt)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('dense_align.')}


def test_pooled_dense_trains_resumes_and_drops_into_mmdet_and_mmseg(
        tmp_path, image_folder, r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'),
        image_folder,
        r34_teacher,
        epochs=1,
        base=POOLED_DENSE)
    work = str(tmp_path / 'work')
    out = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    assert 'dense_s8: D_t = 128, k = 128' in out  # one teacher pass, 4 bases
    for name in STAGES:
        assert f'location vectors ({name})' in out, name
        assert re.search(rf'loss_{name}: \d', out), name
    basis = load_weights(osp.join(work, 'kdep_basis.pth'))
    assert basis['meta']['format'] == STAGES_FORMAT
    assert sorted(basis['meta']['slots']) == sorted(('pooled', ) + STAGES)
    first = _stage_state(osp.join(work, 'epoch_1.pth'))
    assert first['dense_align.0.initialized'].item()

    # --resume to epoch 2: every stage's basis comes back from the
    # checkpoint (no second teacher pass) and stays as it was.
    out2 = run_tool([
        sys.executable, 'tools/train.py', cfg, '--work-dir', work, '--resume',
        '--cfg-options', 'train_cfg.max_epochs=2'
    ])
    assert 'not recomputing' in out2 and 'teacher features of' not in out2
    second = _stage_state(osp.join(work, 'epoch_2.pth'))
    assert set(second) == set(first)
    for k in first:
        assert torch.equal(first[k], second[k]), k

    # The exported student is the plain ResNet-18: strict loads downstream.
    student = max(
        glob.glob(osp.join(work, 'kdep_resnet18*.pth')), key=osp.getmtime)
    expected = torch.load(student, weights_only=True)['state_dict']
    downstream = (('mmdet', 'mmdet/faster-rcnn_kdep-r18_fpn_1x_coco.py'),
                  ('mmseg',
                   'mmseg/pspnet_kdep-r18-d8_4xb4-160k_ade20k-512x512.py'))
    for scope, rel in downstream:
        c = Config.fromfile(config_path(rel))
        c.merge_from_dict({
            'model.backbone.init_cfg.checkpoint': student,
            'model.backbone.norm_cfg.type': 'BN'
        })
        got = build_initialised(c, scope).backbone.state_dict()
        assert set(got) == set(expected), scope
        assert all(torch.equal(got[k], expected[k]) for k in expected), scope


def test_dense_only_with_dist_train_two_cpu_processes(tmp_path, image_folder,
                                                      r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'),
        image_folder,
        r34_teacher,
        epochs=1,
        batch=4,
        base=DENSE)
    work = str(tmp_path / 'dist')
    rc, out = run_launcher(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work],
        cwd=REPO,
        log=str(tmp_path / 'dist.log'))
    assert rc == 0, out[-5000:]
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][3/3]' in out
    assert 'loss_pooled' not in out and 'loss_dense_s32' in out
    basis = load_weights(osp.join(work, 'kdep_basis.pth'))
    assert sorted(basis['meta']['slots']) == sorted(STAGES)
    # 24 images, 4x4 locations at stride 8 of a 32-px crop: all of them
    assert basis['meta']['slots']['dense_s8']['num_images'] == 24 * 16


POOLED_DENSE_VIT2X = config_path(
    'kdep/kdep-pooled-dense_vit-b-p14-dinov2-r18_4xb128-90e_in1k-10pct.py')


def test_vit_teacher_at_twice_the_resolution_trains(tmp_path, image_folder):
    """The DINOv2 ViT-B/14 pooled + dense config with ``teacher_scale=2``
    (shrunk: a deit-tiny/14 teacher, 32 px images): the teacher sees 64 px,
    a 4x4 token grid, i.e. stride 8 in student pixels, finer than its
    stride 16 at the student's resolution; a few steps run and the scale is
    in the teacher's identity (a basis made at 1x is refused)."""
    from tests.helpers.datagen import save_backbone
    from tests.helpers.tiny import build_kdep
    vit = dict(
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=64,
        patch_size=14,
        layer_scale_init_value=1e-5)
    teacher = dict(
        model=vit, checkpoint=save_backbone(vit, str(tmp_path / 'vit.pth')))
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'),
        image_folder,
        teacher,
        epochs=1,
        base=POOLED_DENSE_VIT2X)
    work = str(tmp_path / 'work')
    out = run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    for name in STAGES:
        assert re.search(rf'loss_{name}: \d', out), name
    basis = load_weights(osp.join(work, 'kdep_basis.pth'))
    taps = {r['teacher_tap'] for r in basis['meta']['slots'].values()}
    assert taps and all(t.endswith(':scale=2') for t in taps), taps
    assert build_kdep(
        teacher, teacher_scale=2.0).teacher_meta['tap'].endswith(':scale=2')
    with pytest.raises(ValueError, match='scale=2'):  # the file's tap
        build_kdep(teacher, basis_file=osp.join(work, 'kdep_basis.pth'))
