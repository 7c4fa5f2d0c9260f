# Study arm "KDEP, 10%, EfficientNet-Lite2 teacher" (issue 16): the KDEP-10%
# arm with the stronger real teacher (ImageNet EfficientNet-Lite2, about
# 77.6% top-1, against the MobileNetV2's 71.9%); same pool, budget, student,
# alignment, loss and schedule. Fixed before any of its fine-tunes ran.
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(type='TIMMBackbone', model_name='tf_efficientnet_lite2'),
        checkpoint='data/demo/teacher_lite2/efficientnet-lite2_in1k.pth',
        prefix='backbone.'))
