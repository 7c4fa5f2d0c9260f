# Demo classification: ELPV solar cells, defective vs functional (real
# electroluminescence images, 1,574 / 525 / 525 train / val / test), full
# fine-tuning of the KDEP ResNet-18 student at 64 px (the pre-training
# resolution). The checkpoint kept is the best on val; tools/test.py reports
# it on test. python -m demo passes the exported student as `checkpoint=`
# and `model.backbone.init_cfg.checkpoint=` (demo/cfg_options.py).
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

checkpoint = 'work_dirs/demo/pretrain/student.pth'
data_root = 'data/demo/cls/elpv'
img_size = 64

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='StrictPretrained', checkpoint=checkpoint,
            prefix='backbone.')),
    head=dict(num_classes=2, topk=(1, )))
data_preprocessor = dict(
    num_classes=2,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.6, 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]
_dataset = dict(
    type='CustomDataset',
    data_root=data_root,
    data_prefix='images',
    classes=data_root + '/meta/classes.txt')
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        **_dataset, ann_file='meta/train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file='meta/val.txt', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file='meta/test.txt', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 8
lr = 0.02
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(
        type='CheckpointHook',
        interval=-1,
        save_last=False,
        save_best='accuracy/top1',
        rule='greater'))
randomness = dict(seed=0)
