# The same detector and schedule as the KDEP arm, ResNet-18 from random
# initialisation, with its own learning rate.
_base_ = ['./det_faster-rcnn_r18_fpn_trees-256px_kdep.py']

model = dict(backbone=dict(init_cfg=None))
lr = 0.02
optim_wrapper = dict(optimizer=dict(lr=lr))
