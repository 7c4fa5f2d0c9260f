# KDEP: ResNet-50 (supervised IN-1K) -> ResNet-18 on ImageNet-1K 10%, the
# paper's recipe: the student side (plain ResNet-18 initialisation, as the
# reference student, since mmpretrain's default zero_init_residual=True
# makes the last block's pre-activation equal its non-negative identity path
# at the start; SVD + PTS; w = 20; lr 0.3) is in the base, the teacher is
# the base's model-zoo ResNet-50.
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']
