# Study arm "supervised, 100%, 5x budget": the whole labelled pool for 5B
# (15 epochs = 90k images seen), the paper's "supervised on all the data
# for ~5x the time" point.
_base_ = ['./sup_r18_pool-10pct.py']

max_epochs = 15
train_dataloader = dict(dataset=dict(ann_file='meta/train_labeled.txt'))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
