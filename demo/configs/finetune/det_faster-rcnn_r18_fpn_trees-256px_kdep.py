# Demo detection: real tree crowns in NEON aerial RGB (deepforest sample
# data, 256 px tiles; train / val: two disjoint bands of one site, test:
# three other sites), Faster R-CNN + FPN with the KDEP ResNet-18 student, all
# layers trained (BN in training mode, no frozen stage, so the scratch arm
# is the same network). Metric: COCO bbox mAP; val picks the learning rate,
# tools/test.py reports the last epoch's model on test.
_base_ = '../../../configs/mmdet/faster-rcnn_kdep-r18_fpn_1x_coco.py'

checkpoint = 'work_dirs/demo/pretrain/student.pth'
data_root = 'data/demo/det/trees/'
metainfo = dict(classes=('Tree', ), palette=[(0, 160, 0)])
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        init_cfg=dict(checkpoint=checkpoint)),
    # CPU-sized RoI head (RoIAlign dominated the iteration time): fixed
    # 2x2 sampling, 128 sampled RoIs per image, a 256-wide box head,
    # and a 128-wide FPN.
    neck=dict(out_channels=128),
    rpn_head=dict(in_channels=128, feat_channels=128),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        bbox_head=dict(num_classes=1, in_channels=128, fc_out_channels=256)),
    train_cfg=dict(
        rpn_proposal=dict(max_per_img=500), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(max_per_img=300), rcnn=dict(max_per_img=150)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/test.json',
        data_prefix=dict(img='images/'),
        pipeline=test_pipeline))
val_evaluator = dict(
    ann_file=data_root + 'annotations/val.json', metric='bbox')
test_evaluator = dict(
    ann_file=data_root + 'annotations/test.json', metric='bbox')

max_epochs = 6
lr = 0.02
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=40),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs))
auto_scale_lr = dict(enable=False)
randomness = dict(seed=0)
