# KDEP pre-training on ImageNet-1K 10% (128 images per class, labels unused)
# with the paper's recipe: SGD momentum 0.9, wd 5e-4, total batch 512
# (4 GPUs x 128), 90 epochs, lr x0.1 every 30 epochs, RandomResizedCrop 224 +
# flip + ColorJitter 0.1 + PCA lighting 0.05. Model configs set `model` and
# the learning rate.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['kdep_mm'], allow_failed_imports=False)

# The 10% subset is an annotation file over the usual ImageNet folders
# (no copies):
#   python tools/dataset_converters/make_imagenet_subset.py data/imagenet \
#       --per-class 128
data_root = 'data/imagenet'
train_ann_file = 'meta/train_128perclass_seed0.txt'
val_ann_file = 'meta/val_10perclass_seed0.txt'

EIGVAL = [55.4625, 4.7940, 1.1475]
EIGVEC = [
    [-0.5836, -0.6948, 0.4203],
    [-0.5808, -0.0045, -0.8140],
    [-0.5675, 0.7192, 0.4009],
]
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.1, contrast=0.1, saturation=0.1),
    dict(
        type='Lighting',
        eigval=EIGVAL,
        eigvec=EIGVEC,
        alphastd=0.05,
        to_rgb=False),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # Stack the (equal-size) crops in the workers: one pinned tensor, one
    # host-to-device copy and a vectorised normalisation per batch instead
    # of per-image work in the main process (see benchmarks/README.md).
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='KDEPImageDataset',
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix='train',
        pipeline=train_pipeline))
# Held-out images: the student's R^2 against the KDEP targets.
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='KDEPImageDataset',
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='KDEPR2Metric', top_k=(8, 32))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# The teacher: mmpretrain's model-zoo ResNet-50 (supervised ImageNet-1K).
# Override with --cfg-options model.teacher.checkpoint=/path/to/file.pth
teacher_checkpoint = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa: E501
teacher = dict(
    model=dict(type='ResNet', depth=50),
    checkpoint=teacher_checkpoint,
    prefix='backbone.')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)

custom_hooks = [
    # Teacher features -> PCA basis, once, before the first iteration.
    dict(type='KDEPBasisHook'),
    # A ready-to-use backbone file in the work directory at the end.
    dict(type='KDEPExportHook'),
    # Exact resumption: the augmentation random state in checkpoints.
    dict(type='KDEPRandomStateHook'),
    # Stop at the first NaN / Inf loss, naming the tensor that went bad.
    dict(type='KDEPCheckInvalidLossHook'),
]
default_hooks = dict(
    # mmengine's CheckpointHook, checksummed and written atomically.
    checkpoint=dict(type='KDEPCheckpointHook', interval=10, max_keep_ckpts=3),
    logger=dict(type='LoggerHook', interval=50))
