# Faster R-CNN + FPN, 1x COCO, KDEP ResNet-18 student.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). Override with `--cfg-options checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need `--cfg-options norm_cfg.type=BN`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=18,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))
