# Budget pilot (issue 29): "KDEP, 10%" for 10x the common budget B
# (300 epochs = 180k images seen); everything else as kdep10.
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

max_epochs = 300
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=30)
default_hooks = dict(checkpoint=dict(interval=30))
