# KDEP: ResNet-50 (supervised IN-1K) -> ResNetV1c-50 on ImageNet-1K 10%.
# The deep-stem ResNet-50 that mmsegmentation's stock r50 configs
# (pspnet_r50-d8_*, deeplabv3_r50-d8_*, upernet_r50_*, ...) take with
# `model.pretrained=<exported student file>`; for a stronger teacher than
# the ResNet-50 set `model.teacher` (a wider teacher feature is fine, the
# student distils its top 2048 PCA directions). mmseg's own ResNetV1c: see
# kdep_r50-r18v1c_4xb128-90e_in1k-10pct.py. The schedule and learning rate
# are the ResNet-18 recipe's, not tuned for a ResNet-50 student.
_base_ = ['./kdep_r50-r18_4xb128-90e_in1k-10pct.py']

custom_imports = dict(
    imports=['kdep_mm', 'mmseg.models'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.ResNetV1c',
        depth=50,
        zero_init_residual=False))
