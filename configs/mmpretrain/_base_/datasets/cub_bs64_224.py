# CUB-200-2011 at 224 px, batch 64: mmpretrain's CUB (data/CUB_200_2011).
_base_ = ['./finetune_bs64_224.py']

dataset_type = 'CUB'
data_preprocessor = dict(num_classes=200)
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root='data/CUB_200_2011', split='train'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root='data/CUB_200_2011', split='test'))
test_dataloader = val_dataloader
