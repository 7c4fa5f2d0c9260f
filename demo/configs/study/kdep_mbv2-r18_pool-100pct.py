# Study arm "KDEP, 100%": the same recipe on the whole pool (6,000 images,
# labels unused) for the same budget B: 3 epochs = 18k images seen.
_base_ = ['../pretrain/kdep_mbv2-r18_demo-pool.py']

max_epochs = 3
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
