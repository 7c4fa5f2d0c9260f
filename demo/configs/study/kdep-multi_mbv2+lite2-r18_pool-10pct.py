# Study arm "KDEP, 10%, two teachers" (issue 27): the KDEP-10% arm with both
# real ImageNet teachers (MobileNetV2 + EfficientNet-Lite2 -> ResNet-18,
# 256 + 256 pooled channels, standardised, weight 1.5 + 1.5); same pool,
# budget, student, PTS, loss weight in total and schedule as kdep10 and
# kdep10_lite2. Fixed, with its comparisons (demo/study/design.py), before
# any of its fine-tunes ran.
_base_ = ['../pretrain/kdep-multi_mbv2+lite2-r18_demo-pool.py']

max_epochs = 30
train_dataloader = dict(dataset=dict(ann_file='meta/train_subset.txt'))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
