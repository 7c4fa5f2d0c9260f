# PSPNet with the KDEP MobileNetV2 student: mmseg's pspnet_r50-d8
# model, the student as its backbone and the head widths it needs. The
# configs one folder up compose it with mmseg's dataset, schedule and
# runtime bases.
_base_ = 'mmseg::_base_/models/pspnet_r50-d8.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). `checkpoint` is this file's default; another file:
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_mobilenetv2.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need `--cfg-options
# model.backbone.norm_cfg.type=BN model.decode_head.norm_cfg.type=BN
# model.auxiliary_head.norm_cfg.type=BN`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_imports = dict(
    imports=['kdep_mm', 'mmpretrain.models'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        # mmseg's MobileNetV2 has no final 1x1 conv (the 1280-d layer KDEP
        # distils), so the student is mmpretrain's, used as it is; its
        # output stride is 32 (it has no dilation option)
        type='mmpretrain.MobileNetV2',
        widen_factor=1.0,
        out_indices=(4, 7),
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    decode_head=dict(
        in_channels=1280, in_index=1, channels=512, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=96, in_index=0, channels=256, norm_cfg=norm_cfg))
