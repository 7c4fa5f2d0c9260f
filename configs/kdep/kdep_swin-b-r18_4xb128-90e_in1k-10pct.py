# KDEP: Swin-B (supervised ImageNet-1K, 83.36% top-1 in mmpretrain's model
# zoo) -> ResNet-18 on ImageNet-1K 10%.
#
# Distillation point (built-in): the last stage's LayerNorm (norm3), its
# tokens averaged: the 1024-d feature the classification head reads. Loss
# weight: the paper's w = 20, not tuned for this teacher (see the base).
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(type='SwinTransformer', arch='base', img_size=224),
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'swin-transformer/swin_base_224_b16x64_300e_imagenet_20210616_190742'
        '-93230b0d.pth',
        prefix='backbone.'))
