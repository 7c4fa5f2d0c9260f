# Baseline: logit KD (KL of T=4 softened softmaxes x T^2) from the teacher's
# classifier to a linear head on the student's pooled output (never exported).
_base_ = ['../kdep_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    teacher=dict(
        model=dict(
            _delete_=True,
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=50),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=2048)),
        prefix=None),
    student_tap=dict(module='', hook='output', pool='avg'),
    teacher_tap=dict(module='head.fc', hook='output', pool='none'),
    align=dict(_delete_=True, type='LogitKDAlignment'),
    loss=dict(mode='kl', temperature=4.0, loss_weight=1.0))
val_evaluator = dict(type='KDEPR2Metric', top_k=(8, ))
