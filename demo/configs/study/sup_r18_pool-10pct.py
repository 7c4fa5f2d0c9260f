# Study arm "supervised, 10%": the same ResNet-18 (same initialisation as
# the KDEP student), trained with the labels of the 10% pool (599
# Fashion-MNIST images, 10 classes), the same pipeline, optimiser, batch and
# budget B as the KDEP arms (30 epochs = 18k images seen). The linear head
# is dropped downstream (the backbone is loaded with prefix 'backbone.').
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

data_root = 'data/demo'
max_epochs = 30

model = dict(
    backbone=dict(zero_init_residual=False),
    head=dict(num_classes=10, topk=(1, )))
data_preprocessor = dict(
    num_classes=10,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='RandomResizedCrop', scale=64),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='PackInputs'),
]
_dataset = dict(
    type='CustomDataset',
    data_root=data_root + '/pool',
    classes=data_root + '/pool/meta/classes.txt')
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        **_dataset,
        ann_file='meta/train_subset_labeled.txt',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **_dataset,
        ann_file='meta/val_labeled.txt',
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
