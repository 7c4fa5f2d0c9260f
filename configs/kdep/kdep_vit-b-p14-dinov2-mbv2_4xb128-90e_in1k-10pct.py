# KDEP: the teacher of kdep_vit-b-p14-dinov2-r18_*
# -> MobileNetV2 on ImageNet-1K 10%, with the MobileNetV2 recipe of
# kdep_r50-mbv2_* (mmpretrain's default initialisation, lr 0.1). The
# student's 1280-d feature is wider than this teacher's 768-d one: its
# first 768 channels are distilled, with a warning naming the others
# (docs/teachers.md). Loss weight: w = 20, not tuned.
_base_ = ['./kdep_vit-b-p14-dinov2-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1.0))
optim_wrapper = dict(optimizer=dict(lr=0.1))
