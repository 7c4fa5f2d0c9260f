# Study ablation "logit KD, 10%": the student's pooled feature -> a linear
# head (dropped afterwards) matches the teacher's ImageNet logits (KL of
# softened softmaxes, T = 4, x T^2). Same data, budget and optimiser as
# "KDEP, 10%".
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

model = dict(
    teacher=dict(
        model=dict(
            _delete_=True,
            type='ImageClassifier',
            backbone=dict(type='MobileNetV2', widen_factor=1.0),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=1280)),
        prefix=None),
    student_tap=dict(module='', hook='output', pool='avg'),
    teacher_tap=dict(module='head.fc', hook='output', pool='none'),
    align=dict(_delete_=True, type='LogitKDAlignment'),
    loss=dict(mode='kl', temperature=4.0, loss_weight=1.0))
val_evaluator = dict(type='KDEPR2Metric', top_k=(8, ))
test_evaluator = val_evaluator
