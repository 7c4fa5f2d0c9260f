# PSPNet on VOC12-aug, 512x512 crops, KDEP ResNet-18
# student (output stride 8).
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). Override with `--cfg-options checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
# SyncBN as in the paper. A single process (one GPU, or CPU) reverts it to
# BN by itself; several CPU processes need `--cfg-options norm_cfg.type=BN`.
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
