# The paper's fine-tuning recipe for every classification dataset: SGD,
# lr 1e-3, momentum 0.9, weight decay 5e-4, batch 64, 150 epochs, lr x0.1
# every 50 epochs, 224 px inputs.
_base_ = 'mmpretrain::_base_/default_runtime.py'

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[50, 100], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=150, val_interval=10)
val_cfg = dict()
test_cfg = dict()
# the recipe's total batch: `--auto-scale-lr` rescales lr for another one
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2))
