# Multi-teacher KDEP (docs/multi_teacher.md): DINOv2 ViT-L/14 and CLIP
# ViT-L/14 -> ResNet-50 on ImageNet-1K 10%, pooled + dense at C3-C5, no head
# for any teacher. Every student feature is split in two halves (weights
# 1:1): the first half regresses on DINOv2's top PCA directions, the second
# on CLIP's (pooled 1024 + 1024, C3 256 + 256, C4 512 + 512, C5 1024 +
# 1024); each teacher's coordinates are divided by their spread before PTS.
# DINOv2 sees the crop at 2x (448 px: stride 7 in student pixels, as the
# pooled + dense DINOv2 config), CLIP at its own 224 px; both maps are
# resampled to the student's grid. One basis pass runs both teachers; one
# cache build stores both teachers' columns (tools/build_target_cache.py).
# The checkpoints are mmpretrain's model-zoo conversions (downloaded by
# mmengine when the run starts, checked by their sha256 prefix). Loss
# weights: the paper's w = 20 pooled and 20/3 per stage, shared by the two
# teachers (10 + 10, 10/3 + 10/3), not tuned for these teachers.
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']

dinov2 = dict(
    name='dinov2',
    model=dict(
        type='VisionTransformer',
        arch='large',
        img_size=518,
        patch_size=14,
        layer_scale_init_value=1e-5),
    checkpoint='https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
    'vit-large-p14_dinov2-pre_3rdparty_20230426-f3302d9e.pth',
    prefix='backbone.',
    scale=2.0)
clip = dict(
    name='clip',
    model=dict(
        type='VisionTransformer',
        arch='large',
        img_size=224,
        patch_size=14,
        pre_norm=True),
    checkpoint='https://download.openmmlab.com/mmclassification/v0/clip/'
    'vit-large-p14_clip-openai-pre_3rdparty_20230517-95e2af0b.pth',
    prefix='backbone.')
model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=50, zero_init_residual=False),
    teachers=[dinov2, clip],
    terms=[
        dict(weight=20.0),
        dict(stride=8, weight=20 / 3),
        dict(stride=16, weight=20 / 3),
        dict(stride=32, weight=20 / 3),
    ])
