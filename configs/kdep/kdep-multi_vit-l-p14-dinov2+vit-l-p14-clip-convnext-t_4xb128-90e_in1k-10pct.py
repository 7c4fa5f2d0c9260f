# Multi-teacher KDEP: DINOv2 ViT-L/14 + CLIP ViT-L/14 -> ConvNeXt-T, as the
# ResNet-50 config (pooled + dense at strides 8/16/32, the student's widths
# 768 pooled, 192 / 384 / 768 halved between the teachers). The student is
# tapped at its final LayerNorm's output (pooled: the feature a head reads)
# and at its stage outputs (the tap registry's ConvNeXt entries,
# docs/teachers.md).
_base_ = [
    './kdep-multi_vit-l-p14-dinov2+vit-l-p14-clip-r50_4xb128-90e_in1k-10pct.py'
]

model = dict(
    backbone=dict(
        _delete_=True, type='ConvNeXt', arch='tiny', drop_path_rate=0.1))
# ConvNeXt trains with AdamW (mmpretrain's recipe), at KDEP's batch 512.
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
