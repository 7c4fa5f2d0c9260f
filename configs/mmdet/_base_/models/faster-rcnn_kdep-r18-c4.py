# Faster R-CNN C4 (the paper's head) with the KDEP ResNet-18 student:
# mmdet's faster-rcnn_r50-caffe-c4 model, stages 1-3 of the student as its
# backbone and stage 4 in the RoI head. The configs one folder up compose
# it with mmdet's dataset, schedule and runtime bases.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). `checkpoint` is this file's default; another file (both keys):
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH
# model.roi_head.shared_head.init_cfg.checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need
# `--cfg-options model.backbone.norm_cfg.type=BN
# model.roi_head.shared_head.norm_cfg.type=BN`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    # the student's input normalisation (RGB, ImageNet mean / std), not
    # the caffe one of the base config
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        depth=18,
        style='pytorch',
        norm_cfg=norm_cfg,
        norm_eval=False,
        # stages 1-3 here; the student's stage 4 is the RoI head below
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint=checkpoint,
            prefix='backbone.',
            exclude=['layer4.'])),
    rpn_head=dict(in_channels=256, feat_channels=256),
    roi_head=dict(
        shared_head=dict(
            depth=18,
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=False,
            init_cfg=dict(
                type='StrictPretrained',
                checkpoint=checkpoint,
                prefix='backbone.',
                include=['layer4.'])),
        bbox_roi_extractor=dict(out_channels=256),
        bbox_head=dict(in_channels=512)))
