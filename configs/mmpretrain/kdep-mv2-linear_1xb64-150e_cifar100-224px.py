# Linear probe on CIFAR-100 (the recipe's schedule, frozen backbone), KDEP
# MobileNetV2 student (its checkpoint and `--cfg-options` keys: see the model
# base).
_base_ = [
    './_base_/models/kdep-mv2.py', './_base_/datasets/cifar100_bs64_224.py',
    './_base_/kdep_finetune_150e.py'
]
model = dict(backbone=dict(norm_eval=True), head=dict(num_classes=100))

# linear probe: the backbone is not trained (no gradient step, BN
# statistics frozen), only the linear head
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(backbone=dict(lr_mult=0.0, decay_mult=0.0))))
