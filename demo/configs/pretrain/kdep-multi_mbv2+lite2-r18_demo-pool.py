# The demo's two-teacher KDEP run (docs/multi_teacher.md): the two real
# ImageNet teachers installed at set-up, MobileNetV2 (1280-d pre-activation
# feature, rank 320) and EfficientNet-Lite2 (1280-d, rank 352), distilled
# into one plain ResNet-18 with no head: its 512 pooled channels are split
# 256 / 256, each half regressing on its teacher's top-256 PCA directions,
# each teacher's coordinates divided by their spread before PTS; the loss
# weight 3.0 is shared 1.5 + 1.5. Everything else as
# kdep_mbv2-r18_demo-pool.py.
_base_ = ['./kdep_mbv2-r18_demo-pool.py']

model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    teachers=[
        dict(
            name='mbv2',
            model=dict(type='MobileNetV2', widen_factor=1.0),
            checkpoint='data/demo/teachers/mobilenet-v2_in1k.pth',
            prefix='backbone.'),
        dict(
            name='lite2',
            model=dict(
                type='TIMMBackbone', model_name='tf_efficientnet_lite2'),
            checkpoint='data/demo/teacher_lite2/efficientnet-lite2_in1k.pth',
            prefix='backbone.'),
    ],
    terms=[
        dict(
            align=dict(temperature=0.1, power=3, rank_policy='mask'),
            weight=3.0)
    ],
    probe_size=64,
    channels_last=True)
