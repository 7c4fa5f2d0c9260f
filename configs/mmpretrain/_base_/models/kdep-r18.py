# mmpretrain's ResNet-18 classifier (resnet18 model) with the KDEP
# ResNet-18 student as its backbone. The configs one folder up compose it
# with a dataset and the fine-tuning schedule and set the head's classes.
_base_ = 'mmpretrain::_base_/models/resnet18.py'
# The KDEP student: a file written by tools/extract_student.py (or the
# KDEPExportHook), or a KDEP pre-training checkpoint (its `backbone.*`
# keys). `checkpoint` is this file's default; another file:
# `--cfg-options model.backbone.init_cfg.checkpoint=PATH`.
checkpoint = 'checkpoints/kdep_resnet18.pth'  # noqa: E501
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')))
