# Full fine-tuning on Caltech-256 (60 images per class) with the paper's
# recipe, KDEP MobileNetV2 student (its checkpoint and `--cfg-options` keys:
# see the model base).
_base_ = [
    './_base_/models/kdep-mv2.py', './_base_/datasets/caltech256_bs64_224.py',
    './_base_/kdep_finetune_150e.py'
]
model = dict(head=dict(num_classes=257))
