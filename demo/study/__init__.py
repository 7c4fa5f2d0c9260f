"""The evidence study: KDEP against supervised pre-training and the paper's
ablations, in miniature, on real data and a real ImageNet teacher.

    python -m demo.study                  # everything, resumable
    python -m demo.study --stage pretrain # only the pre-training
    python -m demo.study --max-minutes 60 # stop cleanly after 60'
    python -m demo.study --stage report   # table + figure so far

Every arm pre-trains the same ResNet-18 (``demo/configs/study/``) for the
same budget B of images seen (supervised 100% also for 5B); then every arm,
from scratch included, is fine-tuned on the same downstream tasks with one
protocol (``demo/configs/finetune/``, run by :mod:`demo.finetune`):

- a learning-rate grid per task, every value run with seed 0; the value
  with the best **val** score is kept and run again with seed 1 (task by
  task, so a stopped study leaves whole tasks);
- the test split is used only to report the two kept runs (mean and
  spread); classification keeps the best val epoch, detection and
  segmentation the final model.

Each pre-training run and each fine-tune keeps its result in the work
directory, so the study resumes where it stopped, across sessions. Several
processes may share the work directory to fine-tune in parallel (each unit
is claimed by one of them), e.g. on 2 CPU cores::

    OMP_NUM_THREADS=1 python -m demo.study --stage finetune &
    OMP_NUM_THREADS=1 python -m demo.study --stage finetune

The report (``docs/study_results.md``, ``docs/study_fig1.png``) is written
from whatever is finished, and says what is missing.

Modules: :mod:`.design` (the arms, grids, readouts and comparisons: the
protocol), :mod:`.arms` (the arms' pre-training), :mod:`.units`
(the fine-tune units: claims, run order, results), :mod:`.summary` (mean /
spread, the table), :mod:`.report` (the figure and the report files),
:mod:`.probe` (linear probes), :mod:`.stats` (paired statistics),
:mod:`.cli` (``python -m demo.study``).
"""
