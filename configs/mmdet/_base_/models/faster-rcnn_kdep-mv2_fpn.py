# Faster R-CNN + FPN with the KDEP MobileNetV2 student: mmdet's
# faster-rcnn_r50_fpn model, the student as its backbone. The configs one
# folder up compose it with mmdet's dataset, schedule and runtime bases.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). `checkpoint` is this file's default; another file:
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_mobilenetv2.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need
# `--cfg-options model.backbone.norm_cfg.type=BN`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_imports = dict(
    imports=['kdep_mm', 'mmpretrain.models'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        # mmdet's own MobileNetV2 names its layers differently; the
        # student is mmpretrain's, used here as it is.
        type='mmpretrain.MobileNetV2',
        widen_factor=1.0,
        out_indices=(1, 2, 4, 7),
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
