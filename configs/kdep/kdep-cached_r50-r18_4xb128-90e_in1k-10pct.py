# KDEP from a target cache: the paper's ResNet-50 -> ResNet-18 recipe on
# ImageNet-1K 10% with no teacher in memory. Build the cache once (R = 10
# crops per image, r = 512 directions, the basis included), then train any
# number of students from it:
#
#   python tools/build_target_cache.py \
#       configs/kdep/kdep_r50-r18_4xb128-90e_in1k-10pct.py \
#       --out data/kdep_cache/r50_in1k-10pct --crops 10
#   bash tools/dist_train.sh \
#       configs/kdep/kdep-cached_r50-r18_4xb128-90e_in1k-10pct.py 4
#
# The crop geometry (random-resized crop + flip) is replayed from the cache;
# ColorJitter and Lighting stay here, student-only (docs/target_cache.md).
# Validation needs the teacher (R^2 against its targets): it is off here;
# validate a student with the online config's KDEPR2Metric if needed.
_base_ = ['./kdep_r50-r18_4xb128-90e_in1k-10pct.py']

train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ReplayCachedCrop', scale=224),  # model.cache's crops
    dict(type='ColorJitter', brightness=0.1, contrast=0.1, saturation=0.1),
    dict(
        type='Lighting',
        eigval={{_base_.EIGVAL}},
        eigvec={{_base_.EIGVEC}},
        alphastd=0.05,
        to_rgb=False),
    dict(type='PackInputs', algorithm_keys=('kdep_target', )),
]
# The cached targets are stacked per column in the loader's workers and
# copied to the device once per batch (KDEPDataPreprocessor, the model's
# default), not per sample in the step.
train_dataloader = dict(
    collate_fn=dict(type='kdep_collate'),
    dataset=dict(pipeline=train_pipeline))
model = dict(
    _delete_=True,
    type='CachedKDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    cache='data/kdep_cache/r50_in1k-10pct',  # named once, here
    temperature=0.1,
    power=3,
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
