# PSPNet with the KDEP ResNet-18 student (output stride 8): mmseg's
# pspnet_r50-d8 model, the student as its backbone and the head widths it
# needs. The configs one folder up compose it with mmseg's dataset,
# schedule and runtime bases.
_base_ = 'mmseg::_base_/models/pspnet_r50-d8.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). `checkpoint` is this file's default; another file:
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need `--cfg-options
# model.backbone.norm_cfg.type=BN model.decode_head.norm_cfg.type=BN
# model.auxiliary_head.norm_cfg.type=BN`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        # the student is a plain ResNet (7x7 stem), not a ResNetV1c;
        # dilated to output stride 8 by the base config
        type='ResNet',
        depth=18,
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    decode_head=dict(in_channels=512, channels=128, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=64, norm_cfg=norm_cfg))
