# KDEP: ResNet-50 (supervised IN-1K) -> ResNetV1c-18 on ImageNet-1K 10%.
# The deep-stem student that mmsegmentation's stock ResNet-18 configs
# (pspnet_r18-d8_*, deeplabv3_r18-d8_*, fcn_r18-d8_*, ...: type='ResNetV1c')
# take as they are: set `model.pretrained=<exported student file>`. It is
# mmseg's own ResNetV1c (its stem keys, `stem.0.weight`, differ from
# mmpretrain's ResNetV1c, `stem.0.conv.weight`); the stride / dilation
# settings of the d8 configs do not change any weight's shape, so the
# student is pre-trained with the plain strides. Everything else is the
# ResNet-18 recipe.
_base_ = ['./kdep_r50-r18_4xb128-90e_in1k-10pct.py']

custom_imports = dict(
    imports=['kdep_mm', 'mmseg.models'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.ResNetV1c',
        depth=18,
        zero_init_residual=False))
