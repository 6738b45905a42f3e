"""Measurement of the task resolver: calibrate on the calibration set, report on the test set.

:func:`calibrate`, :func:`evaluate_resolver` and ``exo_calibrate_language`` (=
``python -m exo_language.calibration --out DIR``): the threshold and margin of each encoder
are chosen on the *calibration* set of ``exo_language/data/language_sets.json`` only (the
most paraphrases resolved to their task with no wrong task and no non-task sentence
accepted); accuracy is reported on the *test* set only, which calibration never reads, as
correct / wrong task / refused paraphrases and refused / accepted non-task sentences, and
on the two sets in other voices (:data:`exo_language.paraphrases.VOICE_SPLITS`: whether only
instructions are accepted; the rules, not the threshold, were developed on
``voices_calibration``). The command writes ``language_report.json`` and
``language_similarity.png``; :data:`exo_language.resolver.CALIBRATION` holds the values it
printed.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np
from tqdm import tqdm

from exo_language.encoders import HybridEncoder, LexicalEncoder, MiniLMEncoder, SentenceEncoder
from exo_language.paraphrases import language_set, LanguageSet, VOICE_SPLITS
from exo_language.resolver import _Analysis, TaskResolver


def heldout_pairs(split: str = 'test') -> list[tuple[str, str]]:
    """(text, task_id) of the paraphrases of one set ('test' by default)."""
    return language_set(split).pairs()


def _score_items(resolver: TaskResolver, data: LanguageSet) -> list[tuple[str, str, str,
                                                                          _Analysis]]:
    """(text, expected task id or '', non-task kind or '', analysis) of every text of ``data``."""
    items = [(t, tid, '') for t, tid in data.pairs()]
    items += [(t, '', kind) for t, kind in data.non_task_sentences()]
    return [(t, tid, kind, resolver._analyse(t))
            for t, tid, kind in tqdm(items, desc=f'{resolver.method}: {data.name} set',
                                     leave=False, disable=None)]


def _report(resolver: TaskResolver, items: list, threshold: float, margin: float,
            split: str) -> dict[str, Any]:
    """Counts and lists of one set under (threshold, margin)."""
    correct, wrong, refused, accepted, nt_refused = [], [], [], [], []
    by_kind: dict[str, dict[str, int]] = {}
    for text, tid, kind, analysis in items:
        r = resolver._decide(analysis, threshold, margin)
        got = r.task.task_id if r.task is not None else None
        if tid:
            if got == tid:
                correct.append(text)
            elif got is None:
                refused.append((text, tid, r.reason, r.nearest_task_id, round(r.similarity, 3)))
            else:
                wrong.append((text, tid, got, round(r.similarity, 3)))
        else:
            counts = by_kind.setdefault(kind, {'refused': 0, 'accepted': 0})
            if got is None:
                nt_refused.append((text, kind, r.reason))
                counts['refused'] += 1
            else:
                accepted.append((text, kind, got, round(r.similarity, 3)))
                counts['accepted'] += 1
    n_para = len(correct) + len(wrong) + len(refused)
    n_non = len(accepted) + len(nt_refused)
    return {
        'set': split, 'method': resolver.method, 'threshold': threshold, 'margin': margin,
        'paraphrases': n_para, 'correct': len(correct), 'wrong_task': len(wrong),
        'refused_paraphrase': len(refused), 'non_task': n_non,
        'non_task_refused': len(nt_refused), 'non_task_accepted': len(accepted),
        'non_task_by_kind': by_kind,
        'paraphrase_accuracy': len(correct) / max(n_para, 1),
        'unknown_refusal_rate': len(nt_refused) / max(n_non, 1),
        'wrong_task_errors': wrong, 'refused_paraphrases': refused,
        # (text, expected, got or None): every paraphrase not resolved to its task.
        'paraphrase_errors': [(t, tid, got) for t, tid, got, _ in wrong]
        + [(t, tid, None) for t, tid, *_ in refused],
        'accepted_unknowns': [(t, got) for t, _, got, _ in accepted],
        'accepted_non_task': accepted,
    }


def evaluate_resolver(resolver: TaskResolver, split: str = 'test') -> dict[str, Any]:
    """Resolve every text of one set ('test' by default) with the resolver's own settings.

    Returns the counts a wrong task and a refusal are told apart by: ``correct``,
    ``wrong_task``, ``refused_paraphrase`` (of ``paraphrases``), ``non_task_refused`` and
    ``non_task_accepted`` (of ``non_task``), the same per kind of non-task sentence, the
    rates, and the texts behind every error.
    """
    items = _score_items(resolver, language_set(split))
    return _report(resolver, items, resolver.threshold, resolver.margin, split)


#: Margins calibrate() tries (never 0: two tasks at the same similarity are ambiguous).
MARGIN_GRID = tuple(round(0.005 * i, 3) for i in range(1, 41))


def _choose(items: list) -> tuple[float, float, dict[str, Any]]:
    """(threshold, margin) that accept the most paraphrases correctly with no error.

    Error candidates, for a margin: the texts the whole resolver would accept at a low
    enough threshold that it must not -- non-task sentences and paraphrases whose nearest
    task is wrong that pass the rules and the cue check with at least that margin. The
    lowest safe threshold is just above the best similarity of an error candidate; the
    paraphrases accepted correctly there (nearest task right, cue check passed, similarity
    above it) are counted. Every threshold between the best error candidate and the lowest
    accepted paraphrase accepts the same texts: the threshold is the midpoint between that
    paraphrase and the highest similarity below it of an error candidate or of any non-task
    sentence that reaches the similarity test (so the threshold stays away from non-task
    sentences even when the cue check alone refuses them); with neither below it, the
    threshold is that paraphrase's similarity (rounded down). The margin with the most
    correct accepts wins, ties going to the widest such interval, then to the middle of the
    tied margins.
    """
    live = [(tid, a) for _, tid, _, a in items if a.exact is None and not a.rule]
    para = np.array([bool(tid) for tid, _ in live], dtype=bool)
    right = np.array([a.nearest == tid for tid, a in live], dtype=bool)
    cue = np.array([a.cue for _, a in live], dtype=bool)
    sim = np.array([a.similarity for _, a in live])
    gap = np.array([a.gap for _, a in live])
    rows = []
    for margin in MARGIN_GRID:
        ok = gap >= margin
        bad = sim[ok & cue & (~para | ~right)]
        pos = sim[ok & para & right & cue]
        bad_max = float(bad.max()) if bad.size else float('-inf')
        above = pos[pos > bad_max]
        low = float(above.min()) if above.size else float('inf')
        near = sim[ok & (~para | (~right & cue)) & (sim < low)]
        lower = max(bad_max, float(near.max()) if near.size else float('-inf'))
        rows.append((int(above.size), low - lower, margin, lower, low))
    best = max(r[0] for r in rows)
    widest = max(r[1] for r in rows if r[0] == best)
    tied = [r for r in rows if r[0] == best and r[1] == widest]
    count, _, margin, lower, low = tied[len(tied) // 2]
    if not np.isfinite(low):
        threshold = 1.0
    elif not np.isfinite(lower):
        threshold = float(np.floor(low * 1e4) / 1e4)
    else:
        threshold = float(np.clip(round(0.5 * (lower + low), 3), np.nextafter(lower, 1.0), low))
    return round(float(threshold), 4), float(margin), {
        'correct_accepts': count, 'highest_similarity_to_refuse': lower,
        'lowest_similarity_to_accept': low}


def calibrate(resolver: TaskResolver) -> dict[str, Any]:
    """Choose (threshold, margin) on the calibration set only, and set them on ``resolver``.

    A wrong task is worse than a refusal: the pair maximises the paraphrases resolved to
    their task subject to zero paraphrases resolved to another task and zero non-task
    sentences accepted, on the calibration set (:func:`_choose`). Returns the calibration
    set's report under the chosen values (see :func:`evaluate_resolver`) with the search's
    figures. The test set is never read here.
    """
    items = _score_items(resolver, language_set('calibration'))
    threshold, margin, search = _choose(items)
    resolver.threshold, resolver.margin = threshold, margin
    report = _report(resolver, items, threshold, margin, 'calibration')
    report.update(search)
    return report


def _plot(results: dict[str, dict[str, Any]], path: str) -> None:
    """Similarity of the nearest task on the test set, per encoder, with the threshold."""
    import matplotlib  # noqa: PLC0415 -- only for the report
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(results), 1, figsize=(7, 2.6 * len(results)), squeeze=False)
    bins = np.linspace(0.0, 1.0, 41)
    for ax, (kind, res) in zip(axes[:, 0], results.items(), strict=True):
        sims = res['test_similarities']
        for key, label, color in (
                ('nearest_right', 'paraphrase, nearest task right', 'tab:green'),
                ('nearest_wrong', 'paraphrase, nearest task wrong', 'tab:red'),
                ('non_task', 'non-task sentence past the rules (above the line: refused by '
                 'the cue check)', 'tab:gray')):
            if sims[key]:
                ax.hist(sims[key], bins=bins, alpha=0.55, color=color,
                        label=f'{label} ({len(sims[key])})')
        ax.axvline(res['threshold'], color='k', ls='--', label=f'threshold {res["threshold"]}')
        t = res['test']
        ax.set_title(f'{kind}: test set, {t["correct"]}/{t["paraphrases"]} right, '
                     f'{t["wrong_task"]} wrong task, {t["non_task_accepted"]}/{t["non_task"]} '
                     'non-task accepted', fontsize=9)
        ax.set_xlabel('cosine similarity of the nearest reference')
        ax.set_ylabel('texts')
        ax.legend(fontsize=7, loc='upper left')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _summary(report: dict[str, Any]) -> str:
    return (f'{report["correct"]}/{report["paraphrases"]} correct, '
            f'{report["wrong_task"]} wrong task, {report["refused_paraphrase"]} refused; '
            f'non-task: {report["non_task_refused"]}/{report["non_task"]} refused, '
            f'{report["non_task_accepted"]} accepted')


def main(argv: list[str] | None = None) -> int:
    """Calibrate each encoder on the calibration set, then report it on the test set."""
    parser = argparse.ArgumentParser(
        prog='exo_calibrate_language', description=(
            'Choose threshold and margin per encoder on the calibration set, report '
            'correct / wrong task / refused and non-task refused / accepted on the test '
            'set; writes language_report.json and language_similarity.png.'))
    parser.add_argument('--out', default='language_report', help='output directory')
    parser.add_argument('--encoders', nargs='+', default=['lexical', 'minilm', 'hybrid'],
                        choices=['lexical', 'minilm', 'hybrid'])
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    semantic = None
    for kind in tqdm(args.encoders, desc='encoders', disable=None):
        try:
            if kind == 'lexical':
                encoder: SentenceEncoder = LexicalEncoder()
            else:
                semantic = semantic if semantic is not None else MiniLMEncoder()
                encoder = semantic if kind == 'minilm' else HybridEncoder(semantic)
            resolver = TaskResolver(encoder)
        except Exception as exc:  # noqa: BLE001 -- report the encoder as unavailable
            print(f'{kind}: unavailable ({exc})')
            continue
        shipped = (resolver.threshold, resolver.margin)
        cal = calibrate(resolver)
        test_items = _score_items(resolver, language_set('test'))
        test = _report(resolver, test_items, resolver.threshold, resolver.margin, 'test')
        sims: dict[str, list[float]] = {'nearest_right': [], 'nearest_wrong': [],
                                        'non_task': []}
        for _, tid, _, a in test_items:
            if a.exact is not None or a.rule:
                continue
            key = 'non_task' if not tid else ('nearest_right' if a.nearest == tid
                                              else 'nearest_wrong')
            sims[key].append(round(a.similarity, 4))
        voices = {name: _report(resolver, _score_items(resolver, language_set(name)),
                                resolver.threshold, resolver.margin, name)
                  for name in VOICE_SPLITS}
        results[kind] = {'threshold': resolver.threshold, 'margin': resolver.margin,
                         'shipped_calibration': shipped, 'calibration': cal, 'test': test,
                         'test_similarities': sims, **voices}
        print(f'{kind}: calibrated on the calibration set: threshold {resolver.threshold}, '
              f'margin {resolver.margin} (shipped CALIBRATION: {shipped})')
        print(f'  calibration set: {_summary(cal)}')
        print(f'  TEST set:        {_summary(test)}')
        for text, tid, got, sim in test['wrong_task_errors']:
            print(f'    wrong task: {text!r} ({tid}) -> {got} ({sim})')
        for text, tid, reason, nearest, sim in test['refused_paraphrases']:
            print(f'    refused: {text!r} ({tid}): {reason}, nearest {nearest} ({sim})')
        for text, kind_, got, sim in test['accepted_non_task']:
            print(f'    non-task accepted: {text!r} ({kind_}) -> {got} ({sim})')
        for name, report in voices.items():
            print(f'  {name} set: {_summary(report)}; accepted per kind: '
                  + ', '.join(f'{k} {v["accepted"]}/{v["accepted"] + v["refused"]}'
                              for k, v in report['non_task_by_kind'].items()))
        if shipped != (resolver.threshold, resolver.margin):
            print(f'  note: CALIBRATION[{kind!r}] differs from this calibration; update it to '
                  f'({resolver.threshold}, {resolver.margin})')
    json_path = os.path.join(args.out, 'language_report.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1, default=str)
    if results:
        _plot(results, os.path.join(args.out, 'language_similarity.png'))
    print(f'wrote {json_path} and language_similarity.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
