# KDEP: ResNet-50 (supervised IN-1K) -> MobileNetV2 on ImageNet-1K 10%.
_base_ = ['./_base_/kdep_in1k-10pct.py']

model = dict(
    type='KDEP',
    backbone=dict(type='MobileNetV2', widen_factor=1.0),
    teacher={{_base_.teacher}},
    align=dict(type='SVDPTSAlignment', temperature=0.1, power=3),
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0))

optim_wrapper = dict(optimizer=dict(lr=0.1))
