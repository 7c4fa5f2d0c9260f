"""What a KDEP model computes from its terms (features, targets, losses,
the basis pass's rows) and what hooks and tools read of it: the methods
of :class:`~kdep_mm.models.protocol.Distiller`.

A step runs the teacher once (if a term reads it online), the student
once, reads the cached targets the pipeline packed (if a term reads the
cache), and evaluates every term on them. A map term brings its source
(teacher map or stored projection) to the student grid first
(:func:`resample_map`: linear, so resampling a stored projection equals
projecting the resampled teacher map), then compares location rows.
"""
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np
import torch

from .taps import map_rows, resample_map


class TermForward:
    """Mixed into :class:`~kdep_mm.models.KDEP` (see the module
    docstring)."""

    #: Every KDEP run reads training images (``--preflight`` applies).
    reads_images = True

    @property
    def needs_teacher(self) -> bool:
        """Whether a term reads the teacher online (a basis pass, a
        teacher in memory)."""
        return any(t.online for t in self.terms)

    # ---------------------------------------------------------------- features
    def _prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The student's distilled (pooled, pre-activation) feature."""
        self.student_tap.reset()
        self.backbone(self._prepare(inputs))
        return self.student_tap.pop()

    @torch.no_grad()
    def extract_teacher_feat(self,
                             inputs: torch.Tensor,
                             teacher: str = '') -> torch.Tensor:
        """A teacher's pooled feature (no autograd, eval mode); ``teacher``
        names one of several."""
        t = self.teacher_of(teacher)
        if t.net is None:
            raise RuntimeError('this model reads every target of teacher '
                               f'{teacher!r} from the cache '
                               f'{self.cache_folder}: it is not built')
        return t.pooled(inputs, self._prepare)

    def _maps(self, taps: Dict, run) -> Dict[str, torch.Tensor]:
        for tap in taps.values():
            tap.reset()
        out = dict(pooled=run())
        out.update((name, tap.pop()) for name, tap in taps.items())
        return out

    @torch.no_grad()
    def teacher_outputs(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The raw teacher feature of every online term, by term name
        (pooled (B, D_t), maps (B, C, h, w) on the teacher's grid), from
        one forward of each teacher."""
        out = {}
        for teacher in self.teachers_list:
            terms = [
                t for t in self.terms if t.online and t.teacher == teacher.name
            ]
            if not terms:
                continue
            taps = {t.name: t.teacher_tap for t in terms if t.is_map}
            got = self._maps(
                taps, lambda: self.extract_teacher_feat(inputs, teacher.name))
            out.update(
                (t.name, got[t.name if t.is_map else 'pooled']) for t in terms)
        return {t.name: out[t.name] for t in self.terms if t.online}

    def student_outputs(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The student feature of every term, by name, from one forward."""
        taps = {t.name: t.student_tap for t in self.terms if t.is_map}
        out = self._maps(taps, lambda: self.extract_feat(inputs))
        return {
            t.name: out[t.name if t.is_map else 'pooled']
            for t in self.terms
        }

    def _cached_targets(self, data_samples: Optional[List], device,
                        stacked: Optional[Dict]) -> Dict[str, torch.Tensor]:
        """The cached terms' targets (float32, on ``device``): the batch's
        ``stacked`` columns (``kdep_collate`` + ``KDEPDataPreprocessor``),
        or each sample's ``kdep_target`` stacked here."""
        if stacked:
            return {
                t.name: stacked[t.name].to(device).float()
                for t in self.terms if not t.online
            }
        if not data_samples or 'kdep_target' not in data_samples[0]:
            raise KeyError(
                "the batch carries no cached targets: the training pipeline "
                "needs ReplayCachedCrop and PackInputs(algorithm_keys="
                "('kdep_target', )), and a loader with collate_fn=dict("
                "type='kdep_collate') needs the model's data_preprocessor "
                "to be KDEPDataPreprocessor (the default)")
        rows = [s.kdep_target for s in data_samples]
        rows = [r if isinstance(r, dict) else dict(pooled=r) for r in rows]
        out = {}
        for t in self.terms:
            if not t.online:
                values = [r[t.name] for r in rows]
                batch = torch.from_numpy(np.stack(values)) if isinstance(
                    values[0], np.ndarray) else torch.stack(
                        [torch.as_tensor(v) for v in values])
                # float16 from the cache: copied as it is, widened there
                out[t.name] = batch.to(device, non_blocking=True).float()
        return out

    # -------------------------------------------------------------- the terms
    def _pairs(self,
               inputs: torch.Tensor,
               data_samples: Optional[List] = None,
               kdep_targets: Optional[Dict] = None) -> Dict[str, tuple]:
        """(prediction, target) rows of every term, by name; the tensors of
        a training step are kept (references) for :meth:`last_tensors`."""
        sources = self.teacher_outputs(inputs) if self.needs_teacher else {}
        student = self.student_outputs(inputs)
        if not all(t.online for t in self.terms):
            sources.update(
                self._cached_targets(data_samples, inputs.device,
                                     kdep_targets))
        last, pairs = OrderedDict(), {}
        for term in self.terms:
            f_s, src = student[term.name], sources[term.name]
            last[f'{term.name}: ' +
                 ('teacher feature' if term.online else 'cached target')] = src
            last[f'{term.name}: student feature'] = f_s
            f_s = term.student_part(f_s)
            if term.is_map:
                src = resample_map(src.float(), f_s.shape[-2:])
                f_s, src = map_rows(f_s), map_rows(src)
            if term.online:
                pred, target = term.align(f_s, src)
            else:
                pred, target = term.align.match(
                    f_s, term.align.scale(src[:, :term.align.width]))
            last[f'{term.name}: target'] = target
            last[f'{term.name}: prediction'] = pred
            pairs[term.name] = (pred, target)
        if self.training:
            self._last = last
        return pairs

    def last_tensors(self) -> Dict[str, torch.Tensor]:
        """The last training step's tensors of every term, in data-flow
        order (for the invalid-loss report)."""
        return self._last

    def loss(self,
             inputs: torch.Tensor,
             data_samples: Optional[List] = None,
             kdep_targets: Optional[Dict] = None) -> Dict[str, torch.Tensor]:
        """``loss`` (the paper's single pooled term) or one
        ``loss_<term>`` per term; mmengine sums them. Labels are ignored;
        ``kdep_targets``: a batch's stacked cached targets, if any."""
        pairs = self._pairs(inputs, data_samples, kdep_targets)
        if len(self.terms) == 1 and self.terms[0].name == 'pooled':
            return dict(loss=self.terms[0].loss(*pairs[self.terms[0].name]))
        losses = {f'loss_{t.name}': t.loss(*pairs[t.name]) for t in self.terms}
        if self.teachers_list[0].name:  # several: each one's share, logged
            total = sum(v.detach() for v in losses.values())
            for teacher in self.teachers_list:
                part = sum(v.detach()
                           for t, v in zip(self.terms, losses.values())
                           if t.teacher == teacher.name)
                losses[f'share_{teacher.name}'] = part / total
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None) -> List[Dict]:
        """Per image: the pooled ``pred`` / ``target`` and, with map terms,
        each term's location rows in ``dense`` (for :class:`KDEPR2Metric`).
        Needs every target online (validation runs the teacher)."""
        if not all(t.online for t in self.terms):
            raise RuntimeError(
                'Invalid mode "predict" for targets read from a cache (no '
                'teacher in memory): validate with the online model')
        pairs = self._pairs(inputs, data_samples)
        b = inputs.shape[0]
        maps = [t for t in self.terms if t.name != 'pooled']
        out = [dict(dense={}) if maps else dict() for _ in range(b)]
        for term in self.terms:
            pred, target = (x.detach().cpu() for x in pairs[term.name])
            if not term.is_map and term.name != 'pooled':  # several teachers
                for o, p, t in zip(out, pred, target):
                    o['dense'][term.name] = (p[None], t[None])
                continue
            if not term.is_map:
                for o, p, t in zip(out, pred, target):
                    o.update(pred=p, target=t)
                continue
            pred, target = (
                x.reshape(b, -1, x.shape[1]) for x in (pred, target))
            for o, p, t in zip(out, pred, target):
                o['dense'][term.name] = (p, t)
        return out

    # --------------------------------------------------------------- the basis
    def basis_slots(self) -> Dict:
        """The alignments whose basis comes from the teacher's features,
        by term name (the basis pass, the basis file and its checks)."""
        return {
            t.name: t.align
            for t in self.terms if t.online and t.align.needs_basis
        }

    def basis_records(self) -> Dict[str, Dict]:
        """Per basis slot, the plain identity a basis file records and is
        checked against: teacher fingerprint, tap and width (plus the
        teacher's architecture and file, for people)."""
        out = {}
        for name in self.basis_slots():
            term = self.term(name)
            t = self.teacher_of(term.teacher)
            out[name] = dict(
                teacher_fingerprint=t.info['fingerprint'],
                **term.identity(),
                teacher_arch=str(t.info['model']),
                teacher_checkpoint=str(t.info['checkpoint']))
            if term.teacher:  # several: their order is the file's too
                out[name]['teachers'] = [x.label() for x in self.teachers_list]
        return out

    def term(self, name: str):
        return next(t for t in self.terms if t.name == name)

    @torch.no_grad()
    def basis_features(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Per basis slot, the teacher's rows of a batch: pooled features
        (N, D_t), and each map's location vectors on its own grid (all, or
        ``locations_per_image`` random ones)."""
        feats = self.teacher_outputs(inputs)
        out = {}
        for name in self.basis_slots():
            rows, term = feats[name], self.term(name)
            if term.is_map:
                rows = rows.flatten(2).transpose(1, 2)  # (B, HW, C)
                n = term.info['locations_per_image']
                if n is not None and n < rows.shape[1]:
                    idx = torch.stack([
                        torch.randperm(
                            rows.shape[1], generator=self._basis_gen)[:n]
                        for _ in range(rows.shape[0])
                    ]).to(rows.device)
                    rows = rows.gather(
                        1, idx[..., None].expand(-1, -1, rows.shape[2]))
                rows = rows.reshape(-1, rows.shape[2])
            out[name] = rows
        return out

    # -------------------------------------------------------------- records
    def kdep_meta(self) -> Dict:
        """What checkpoints and exported students record."""
        online = [t for t in self.terms if t.online]
        meta = dict(
            student=self.student_cfg,
            student_tap=self.student_tap.describe(),
            teacher=self.teacher_meta,
            align=type(online[0].align).__name__ if online else 'CachedKDEP')
        maps = [t for t in self.terms if t.is_map]
        if maps:
            meta.update(
                pooled=len(maps) < len(self.terms),
                dense=[dict(t.info) for t in maps])
        if self.teachers_list[0].name:
            meta['terms'] = [dict(t.info) for t in self.terms]
        if self._cache is not None:
            meta['cache'] = self._cache.record()
        return meta

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A dense-only model written before the terms kept an unused pooled
        # alignment state; it has no term now.
        if not hasattr(self, 'align'):
            for key in [
                    k for k in state_dict if k.startswith(prefix + 'align.')
            ]:
                state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
