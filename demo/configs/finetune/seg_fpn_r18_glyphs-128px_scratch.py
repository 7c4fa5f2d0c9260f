# The same segmenter and schedule as the KDEP arm, ResNet-18 from random
# initialisation, with its own learning rate.
_base_ = ['./seg_fpn_r18_glyphs-128px_kdep.py']

model = dict(backbone=dict(init_cfg=None))
lr = 0.05
optim_wrapper = dict(optimizer=dict(lr=lr))
