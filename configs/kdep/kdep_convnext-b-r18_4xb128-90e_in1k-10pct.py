# KDEP: ConvNeXt-B (supervised ImageNet-1K, 83.66% top-1 in mmpretrain's
# model zoo) -> ResNet-18 on ImageNet-1K 10%.
#
# Distillation point (built-in): the final LayerNorm of the globally pooled
# feature (norm3 with gap_before_final_norm=True): the 1024-d feature the
# classification head reads. Loss weight: the paper's w = 20, not tuned for
# this teacher (see the base).
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(type='ConvNeXt', arch='base'),
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'convnext/convnext-base_32xb128_in1k_20221207-fbdb5eb9.pth',
        prefix='backbone.'))
