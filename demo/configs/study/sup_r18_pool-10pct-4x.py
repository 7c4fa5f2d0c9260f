# Budget pilot (issue 29): "supervised, 10%" for 4x the common budget B
# (120 epochs = 72k images seen); everything else as sup10.
_base_ = ['./sup_r18_pool-10pct.py']

max_epochs = 120
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=12)
default_hooks = dict(checkpoint=dict(interval=12))
