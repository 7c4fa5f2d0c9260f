# Full fine-tuning on CUB-200-2011 with the paper's recipe,
# KDEP MobileNetV2 student.
_base_ = [
    'mmpretrain::_base_/models/mobilenet_v2_1x.py',
    './_base_/datasets/cub_bs64_224.py', './_base_/kdep_finetune_150e.py'
]
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). Override with `--cfg-options checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_mobilenetv2.pth'  # noqa: E501
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    head=dict(num_classes=200))
