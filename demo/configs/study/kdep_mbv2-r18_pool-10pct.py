# Study arm "KDEP, 10%": the demo's KDEP recipe (ImageNet MobileNetV2
# teacher -> ResNet-18, SVD + PTS, MSE x 3, 64 px) on the 10% pool (599
# Fashion-MNIST images, class-stratified, labels unused), basis included.
# Budget: 30 epochs = 18k images seen, the study's common budget B.
_base_ = ['../pretrain/kdep_mbv2-r18_demo-pool.py']

max_epochs = 30
train_dataloader = dict(dataset=dict(ann_file='meta/train_subset.txt'))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
