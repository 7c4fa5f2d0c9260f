# KDEP: ResNet-50 (supervised IN-1K) -> ResNet-18 on ImageNet-1K 10%.
_base_ = ['./_base_/kdep_in1k-10pct.py']

model = dict(
    type='KDEP',
    # Plain initialisation, as the reference student: mmpretrain's default
    # zero_init_residual=True makes the last block's pre-activation equal its
    # non-negative identity path at the start.
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    teacher={{_base_.teacher}},
    align=dict(type='SVDPTSAlignment', temperature=0.1, power=3),
    # w = 20.0 for a supervised ImageNet-1K ResNet-50 teacher (the paper).
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0))

optim_wrapper = dict(optimizer=dict(lr=0.3))
