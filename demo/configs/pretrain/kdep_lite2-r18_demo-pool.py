# The demo's KDEP run with the stronger real teacher: EfficientNet-Lite2
# (ImageNet-1K, about 77.6% top-1; timm's tf_efficientnet_lite2 through
# mmpretrain's TIMMBackbone, converted at set-up by
# tools/model_converters/efficientnet_lite_timm.py) -> ResNet-18, everything
# else as kdep_mbv2-r18_demo-pool.py. Distillation point (built-in): the
# pooled BatchNorm output of its last 1x1 conv (conv_head, 1280-d) before
# ReLU6; its rank is at most 352 (the conv's input width).
# `python -m demo --teacher lite2` runs it.
_base_ = ['./kdep_mbv2-r18_demo-pool.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(type='TIMMBackbone', model_name='tf_efficientnet_lite2'),
        checkpoint='data/demo/teacher_lite2/efficientnet-lite2_in1k.pth',
        prefix='backbone.'))
