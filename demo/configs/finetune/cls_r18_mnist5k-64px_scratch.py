# The same ResNet-18, schedule and data as the pre-trained arm, from random
# initialisation, with its own learning rate.
_base_ = ['./cls_r18_mnist5k-64px_kdep.py']

model = dict(backbone=dict(init_cfg=None))
lr = 0.05
optim_wrapper = dict(optimizer=dict(lr=lr))
