# DTD (Describable Textures, split 1) at 224 px, batch 64: mmpretrain's DTD
# (data/dtd with imdb/imdb.mat; needs the `mat4py` package).
_base_ = ['./finetune_bs64_224.py']

dataset_type = 'DTD'
data_preprocessor = dict(num_classes=47)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root='data/dtd', split='trainval'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root='data/dtd', split='test'))
test_dataloader = val_dataloader
