# The same ResNet-18, schedule and data as the KDEP arm, from random
# initialisation, with its own learning rate (from scratch prefers a higher
# one; both rates were picked on val, see tools/demo.py).
_base_ = ['./cls_r18_elpv-64px_kdep.py']

model = dict(backbone=dict(init_cfg=None))
lr = 0.05
optim_wrapper = dict(optimizer=dict(lr=lr))
