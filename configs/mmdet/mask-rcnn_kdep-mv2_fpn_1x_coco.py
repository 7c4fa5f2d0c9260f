# Mask R-CNN + FPN, 1x COCO, KDEP MobileNetV2 student.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). Override with `--cfg-options checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_mobilenetv2.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need `--cfg-options norm_cfg.type=BN`.
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
