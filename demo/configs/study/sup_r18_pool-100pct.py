# Study arm "supervised, 100%": labels of the whole pool (6,000 images),
# budget B: 3 epochs = 18k images seen.
_base_ = ['./sup_r18_pool-10pct.py']

max_epochs = 3
train_dataloader = dict(dataset=dict(ann_file='meta/train_labeled.txt'))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
