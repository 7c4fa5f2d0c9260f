# Full fine-tuning on DTD with the paper's recipe,
# KDEP ResNet-18 student.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    './_base_/datasets/dtd_bs64_224.py', './_base_/kdep_finetune_150e.py'
]
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). Override with `--cfg-options checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    head=dict(num_classes=47))
