"""Linear-probe readouts: what the pre-training itself put in the features.

Fine-tuning every layer for a few epochs washes out much of what a
pre-training learned, and its seed noise is as large as the differences
between arms. A linear probe reads the frozen student instead: its pooled
features of each image (the fine-tune config's test pipeline, no
augmentation) feed an L2-regularised multinomial logistic regression; the
regularisation strength is chosen on val, and the chosen probe is reported
on test. The fit is a convex problem solved to convergence (L-BFGS, float64)
on standardised features, so a probe has no seed: its number depends only
on the features.

The scratch arm's features are those of a random network; both values of
``zero_init_residual`` are in its grid, chosen on val like the strength.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch

from .. import ROOT
from ..finetune import TASKS, dump_json, load_json, task_config

#: L2 strengths tried (fixed before any probe was run).
PROBE_L2 = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: The tasks that are read out with a probe.
PROBE_TASKS = ('cls', 'mnist')


def fit_probe(train: Tuple[torch.Tensor, torch.Tensor],
              evals: Sequence[Tuple[torch.Tensor, torch.Tensor]],
              l2: float,
              max_iter: int = 500) -> Sequence[float]:
    """Fit a logistic-regression probe; return its accuracy (%) on each of
    ``evals``.

    Args:
        train: Features ``(N, D)`` and integer labels ``(N, )``.
        evals: ``(features, labels)`` pairs to score.
        l2 (float): Weight of ``0.5 * ||W||^2`` added to the mean
            cross-entropy (the bias is not penalised).
        max_iter (int): L-BFGS iterations at most.
    """
    x, y = train
    x = x.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
    x = (x - mean) / std
    classes = int(max(int(y.max()), *(int(v.max()) for _, v in evals))) + 1
    weight = torch.zeros(
        x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias],
                            max_iter=max_iter,
                            tolerance_grad=1e-9,
                            tolerance_change=1e-12,
                            history_size=20,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + \
            0.5 * l2 * (weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    scores = []
    with torch.no_grad():
        for fx, fy in evals:
            pred = (((fx.double() - mean) / std) @ weight + bias).argmax(1)
            scores.append(100.0 * (pred == fy).double().mean().item())
    return scores


def select_probe(runs: Dict[str, Dict]) -> str:
    """The grid point with the best val accuracy (ties: the stronger L2,
    then ``zero_init_residual`` False)."""
    order = sorted(
        runs, key=lambda k: (-runs[k]['l2'], runs[k]['zir'] is True))
    return max(order, key=lambda k: runs[k]['val'])


@torch.no_grad()
def extract_features(task: str,
                     checkpoint: Optional[str],
                     zero_init_residual: Optional[bool] = None,
                     limit: Optional[int] = None) -> Dict[str, Tuple]:
    """Pooled features and labels of the train / val / test splits of a
    classification task, from the frozen backbone of its fine-tune config.

    Args:
        task (str): A key of :data:`demo.finetune.TASKS` (a classification
            task).
        checkpoint (str, optional): The pre-trained student (None: the
            scratch config's random initialisation, seed 0).
        zero_init_residual (bool, optional): For the random backbone.
        limit (int, optional): Use the first ``limit`` images of each split
            (a smoke test).
    """
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    import kdep_mm  # noqa: F401  (registers StrictPretrained)
    cfg = Config.fromfile(task_config(TASKS[task], checkpoint is not None))
    if checkpoint is not None:
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    if zero_init_residual is not None:
        cfg.model.backbone.zero_init_residual = zero_init_residual
    torch.manual_seed(0)
    # the current logger: quiet about every initialised parameter
    MMLogger.get_instance('kdep_probe', log_level='WARNING')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.eval()
        splits = {}
        for split, loader in (('train', 'train_dataloader'),
                              ('val', 'val_dataloader'), ('test',
                                                          'test_dataloader')):
            ds = cfg[loader].dataset.copy()
            ds.pipeline = cfg.test_dataloader.dataset.pipeline
            if not osp.isabs(ds.data_root):
                ds.data_root = osp.join(ROOT, ds.data_root)
            if not osp.isabs(ds.classes):
                ds.classes = osp.join(ROOT, ds.classes)
            if limit:
                ds.indices = limit
            dataloader = Runner.build_dataloader(
                dict(
                    batch_size=128,
                    num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=ds))
            feats, labels = [], []
            for data in dataloader:
                data = model.data_preprocessor(data, False)
                feats.append(model.extract_feat(data['inputs'])[-1])
                labels += [s.gt_label.item() for s in data['data_samples']]
            splits[split] = (torch.cat(feats), torch.tensor(labels))
    return splits


def probe(task: str,
          checkpoint: Optional[str],
          inits: Sequence[Optional[bool]] = (None, ),
          l2_grid: Sequence[float] = PROBE_L2,
          limit: Optional[int] = None) -> Dict:
    """Every grid point's val and test accuracy, and the one val chose."""
    runs = {}
    for zir in inits:
        splits = extract_features(task, checkpoint, zir, limit)
        for l2 in l2_grid:
            val, test = fit_probe(splits['train'],
                                  [splits['val'], splits['test']], l2)
            key = f'l2{l2:g}' + ('' if zir is None else f'_zir{int(zir)}')
            runs[key] = dict(l2=l2, zir=zir, val=val, test=test)
    chosen = select_probe(runs)
    return dict(
        task=task,
        grid=runs,
        chosen=chosen,
        val=runs[chosen]['val'],
        test=runs[chosen]['test'],
        dims=int(splits['train'][0].shape[1]))


def probe_file(args, task: str, arm: str) -> str:
    return osp.join(args.results_dir, 'probe', task, f'{arm}.json')


def probe_all(args, arms, pre: Dict[str, Optional[Dict]]) -> None:
    """Probe every arm on every probe task (finished ones are kept)."""
    from .arms import banner
    from .design import SCRATCH_INITS
    for task in [t for t in PROBE_TASKS if t in args.tasks]:
        for arm in arms:
            out = probe_file(args, task, arm['name'])
            if osp.exists(out):
                continue
            p = pre.get(arm['name'])
            if arm['config'] is not None and not p:
                continue  # not pre-trained yet
            args.check_time()
            banner(f"linear probe ({task}): {arm['name']}")
            res = probe(
                task,
                p['checkpoint'] if p else None,
                inits=SCRATCH_INITS if p is None else (None, ),
                limit=64 if args.quick else None)
            dump_json(res, out)
            print(f"{arm['name']}: probe val {res['val']:.2f}, test "
                  f"{res['test']:.2f} ({res['chosen']})")


def collect_probe(args, task: str, arm: str) -> Optional[Dict]:
    f = probe_file(args, task, arm)
    return load_json(f) if osp.exists(f) else None
