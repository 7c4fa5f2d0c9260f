# The demo's KDEP run, sized for a 2-core CPU: the real ImageNet-1K
# MobileNetV2 teacher (converted from torchvision's weights at set-up) ->
# ResNet-18 student, on 6,000 unlabelled real images (Fashion-MNIST, grey
# repeated to 3 channels) at 64 px. Prepared by python -m demo.prepare_assets.
_base_ = ['../../../configs/kdep/_base_/kdep_in1k-10pct.py']

data_root = 'data/demo'
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
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(
        data_root=data_root + '/pool',
        ann_file='',
        data_prefix='train',
        with_label=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(
        data_root=data_root + '/pool',
        ann_file='',
        data_prefix='val',
        with_label=False,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    teacher=dict(
        model=dict(type='MobileNetV2', widen_factor=1.0),
        checkpoint=data_root + '/teachers/mobilenet-v2_in1k.pth',
        prefix='backbone.'),
    # The teacher's 1280-d pre-activation feature has rank 320 (its last
    # 1x1 conv has 320 inputs): the 192 directions beyond are not distilled.
    align=dict(
        type='SVDPTSAlignment', temperature=0.1, power=3, rank_policy='mask'),
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=3.0),
    probe_size=64,
    channels_last=True)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    _delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=5)
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=10))
randomness = dict(seed=0)
