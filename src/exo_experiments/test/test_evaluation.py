"""Evaluation harness: single-rollout CLI, language front end, repetitive session, eq. 16."""

import json
import math

import numpy as np
import pytest

from exo_bringup.node_config import load_node_config
from exo_contract.tasks import find_task
from exo_experiments.evaluation import (
    ASSISTED,
    CONDITIONS,
    draw_timing,
    ec_reduction_pct,
    ee_metrics,
    main,
    make_schedule,
    make_source,
    repetitive,
    RepetitiveRequest,
    resolve_task,
    run_repetitive,
    run_repetitive_sessions,
    start_step,
    steady_window,
    timing_variation,
    UNKNOWN_TEXT_ERROR,
)
from exo_language.resolver import TaskResolver

# A paraphrase (no exact library match) that the lexical and the hybrid resolvers both
# map to ok_gesture.
PARAPHRASE = 'do the okay gesture'
MODES = ('no_exo', 'transparent', 'promp', 'learned', 'oracle', 'ablation_human_reference')


@pytest.fixture(scope='module')
def lexical_policy_yaml(tmp_path_factory):
    """policy_node parameters with the fast lexical resolver (the rest: defaults)."""
    path = tmp_path_factory.mktemp('params') / 'policy.yaml'
    path.write_text('policy_node:\n  ros__parameters:\n    language_encoder: lexical\n')
    return path


def test_single_rollout_cli_json_at_an_arbitrary_mass(capsys):
    rc = main(['--task-text', 'make an ok gesture', '--mass', '72', '--policy', 'promp',
               '--json', '--onset-delay', '0', '--speed', '1', '--amplitude', '1'])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert res['timing']['onset_s'] == 0.0 and res['timing']['speed'] == 1.0
    assert res['timing']['amplitude_scale'] == 1.0
    assert res['resolved_task'] == 'ok_gesture' and res['human_task'] == 'ok_gesture'
    assert res['body_mass_kg'] == 72.0 and res['policy'] == 'promp'
    assert math.isfinite(res['rmse_rad']) and 0.0 <= res['rmse_rad'] < 0.2
    assert math.isfinite(res['effort']) and res['effort'] > 0.0
    assert res['safety']['ticks'] > 0
    for key in ('stiffness_rate_violations', 'torque_limit_violations', 'nonfinite_commands'):
        assert res['safety'][key] == 0
    assert res['safety_ok'] is True


def test_timing_is_drawn_per_seed_alike_in_every_condition_and_flags_override():
    a = draw_timing(3, 'lift_heavy', 70.0)
    assert a == draw_timing(3, 'lift_heavy', 70.0)  # reproducible
    assert a != draw_timing(4, 'lift_heavy', 70.0)
    draws = [draw_timing(s, 'wave', 65.0) for s in range(40)]
    assert all(0.2 <= d.onset_s <= 1.0 and 0.8 <= d.speed <= 1.2
               and 0.85 <= d.amplitude_scale <= 1.15 for d in draws)
    assert np.ptp([d.onset_s for d in draws]) > 0.5  # the onset really varies
    given = timing_variation(3, 'lift_heavy', 70.0, onset_s=0.0, speed=1.1)
    assert (given.onset_s, given.speed) == (0.0, 1.1)
    assert given.amplitude_scale == a.amplitude_scale
    with pytest.raises(ValueError, match='onset_s'):
        timing_variation(0, 'wave', 70.0, onset_s=-1.0)
    with pytest.raises(ValueError, match='speed'):
        timing_variation(0, 'wave', 70.0, speed=float('nan'))


def test_the_paraphrase_is_one_both_resolvers_map_to_ok_gesture():
    assert find_task(PARAPHRASE) is None  # not an exact match: the encoder decides
    assert TaskResolver('lexical')(PARAPHRASE).task_id == 'ok_gesture'
    # The default configuration's resolver (policy.yaml: language_encoder auto = hybrid
    # when MiniLM loads).
    assert resolve_task(PARAPHRASE).task_id == 'ok_gesture'
    assert resolve_task('pick up that heavy box').task_id == 'lift_heavy'


@pytest.mark.parametrize('mode', ['no_exo', 'transparent', 'promp', 'oracle'])
def test_a_paraphrase_runs_its_task_in_every_non_learned_mode(mode, lexical_policy_yaml,
                                                              capsys):
    rc = main(['--task-text', PARAPHRASE, '--policy', mode, '--json',
               '--policy-params', str(lexical_policy_yaml)])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0, res
    # The simulated human and the reference source resolved it alike.
    assert res['human_task'] == 'ok_gesture' and res['resolved_task'] == 'ok_gesture'
    assert res['task_text'] == PARAPHRASE and res['policy'] == mode
    if mode in ASSISTED:
        assert 0.5 < res['confidence'] < 1.0  # an encoder match, not an exact one
        assert res['fallback_fraction'] < 0.5
    assert math.isfinite(res['rmse_rad']) and res['safety_ok'] is True


@pytest.mark.parametrize('mode', MODES)
def test_unknown_text_is_refused_alike_in_every_mode(mode, lexical_policy_yaml, capsys):
    rc = main(['--task-text', 'do a backflip', '--policy', mode, '--json',
               '--policy-params', str(lexical_policy_yaml)])
    res = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert res == {'task_text': 'do a backflip', 'policy': mode, 'body_mass_kg': 70.0,
                   'resolved_task': None, 'error': UNKNOWN_TEXT_ERROR}


def test_the_rollout_runs_the_controller_yaml(tmp_path, lexical_policy_yaml, capsys):
    # A lower stiffness ceiling in the controller's parameter file caps the stiffness.
    path = tmp_path / 'params.yaml'
    path.write_text('controller_node:\n  ros__parameters:\n    stiffness_max: 40.0\n')
    rc = main(['--task-text', 'lift a heavy box', '--policy', 'oracle', '--json',
               '--controller-params', str(path), '--policy-params', str(lexical_policy_yaml)])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert res['k_max'] <= 40.0 + 1e-9
    rc = main(['--task-text', 'lift a heavy box', '--policy', 'oracle', '--json',
               '--policy-params', str(lexical_policy_yaml)])
    assert json.loads(capsys.readouterr().out)['k_max'] > 40.0  # the shipped ceiling: 300


def test_a_wrong_key_in_a_parameter_file_stops_the_cli(tmp_path, capsys):
    path = tmp_path / 'params.yaml'
    path.write_text('controller_node:\n  ros__parameters:\n    target_dampin: 5.0\n')
    with pytest.raises(SystemExit) as exc:
        main(['--quick', '--controller-params', str(path), '--no-plots'])
    assert exc.value.code == 2
    assert "'target_dampin'" in capsys.readouterr().err


def test_ec_equals_the_analytic_integral():
    # EE(t) = a + b t (W/kg) on [0, 600] s, m = 70 kg; window [180, 600] s.
    t = np.linspace(0.0, 600.0, 60001)
    a, b, m = 2.0, 0.001, 70.0
    met = ee_metrics(t, (a + b * t) * m, m)
    t1, t2 = 180.0, 600.0
    assert met['steady_window_s'] == [t1, t2] and steady_window(600.0) == (t1, t2)
    analytic = m * (a * (t2 - t1) + 0.5 * b * (t2**2 - t1**2))
    assert met['ec_j'] == pytest.approx(analytic, rel=1e-9)
    # a sinusoid over whole periods integrates to its mean
    ee = 3.0 + np.sin(2 * np.pi * t / 60.0)
    assert ee_metrics(t, ee * m, m)['ec_j'] == pytest.approx(m * 3.0 * 420.0, rel=1e-6)
    # the basal term adds m * basal * (t2 - t1)
    with_basal = ee_metrics(t, (a + b * t) * m, m, basal_w_per_kg=1.2)['ec_j']
    assert with_basal - met['ec_j'] == pytest.approx(m * 1.2 * 420.0, rel=1e-9)


def test_reduction_sign():
    assert ec_reduction_pct(223.0, 250.2) == pytest.approx(100 * 27.2 / 250.2)
    assert ec_reduction_pct(223.0, 250.2) > 0  # less energy than no_exo: a reduction
    assert ec_reduction_pct(260.0, 250.2) < 0
    assert ec_reduction_pct(250.2, 250.2) == 0.0
    assert math.isnan(ec_reduction_pct(1.0, 0.0))


def test_repetitive_schedule_is_paper_like():
    cycles = make_schedule(600.0, seed=0)
    assert 55 <= len(cycles) <= 80  # the paper reports 62-67 transfers in 10 min
    assert cycles[0].start == 0.0
    for a, b in zip(cycles, cycles[1:], strict=False):
        assert 2.0 <= b.start - a.end <= 4.0  # a pause between cycles
    onsets = [c.onset_s for c in cycles]
    assert min(onsets) >= 0.2 and max(onsets) <= 1.0 and np.ptp(onsets) > 0.5
    for c in cycles:
        # Every cycle starts and ends at the rest posture: the session is continuous.
        q0, _, _ = c.reference(0.0)
        q1, _, _ = c.reference(c.reference.duration)
        assert q0 == pytest.approx(c.reference.baseline, abs=1e-9)
        assert q1 == pytest.approx(c.reference.baseline, abs=1e-9)


def test_start_step_is_the_first_step_at_or_after_the_start():
    h = 0.001
    for start in (0.0, 0.0005, 0.001, 0.0123456, 3.9999999, 7.3, 600.0):
        k = start_step(start, h)
        assert k * h >= start and (k == 0 or (k - 1) * h < start)


class _Spy:
    """Reference source wrapper that records when the task text arrives."""

    def __init__(self, source):
        self.source = source
        self.text_times = []

    def set_task_text(self, text, t):
        self.text_times.append(t)
        return self.source.set_task_text(text, t)

    def reference(self, t, q, qd=0.0):
        return self.source.reference(t, q, qd)


def test_repetitive_session_runs_the_step_loop(monkeypatch, lexical_policy_yaml):
    config = load_node_config(policy_path=lexical_policy_yaml)
    spies = []

    def spy_source(condition, node_config=None):
        spies.append(_Spy(make_source(condition, node_config)))
        return spies[-1]

    monkeypatch.setattr(repetitive, 'make_source', spy_source)
    minutes = 0.5
    res = run_repetitive('oracle', minutes, node_config=config)
    total_s = minutes * 60.0
    h = 0.001
    cycles = [c for c in make_schedule(total_s) if c.start < total_s]
    # The text arrives at the step each cycle's task starts: the first k with k h >= start.
    assert spies[0].text_times == [start_step(c.start, h) * h for c in cycles]
    assert res['cycles_started'] == len(cycles) >= 3
    assert res['cycles_completed'] == sum(1 for c in cycles if c.end <= total_s)
    assert res['seed'] == 0
    assert res['safety_ok'] is True and res['safety']['ticks'] == int(round(total_s / h))
    # The oracle's reference runs from the instruction: it leads each cycle by the reaction
    # time, so its tracking error is large; finite and bounded is what is asserted here.
    assert 0.0 < res['rmse_rad'] < 0.5 and res['effort'] > 0.0
    # The human's reference (20 Hz samples): each cycle's trajectory from its start step,
    # the rest posture in the pauses.
    fm = res['first_minute']
    t, q_ref = np.asarray(fm['t_s']), np.asarray(fm['q_ref'])
    baseline = cycles[0].reference.baseline
    for i, c in enumerate(cycles):
        # the movement follows the reaction time (whole steps after the instruction's step)
        t0 = (start_step(c.start, h) + int(round(c.onset_s / h))) * h
        during = (t >= t0) & (t <= t0 + c.reference.duration)
        expected = [c.reference(x - t0)[0] for x in t[during]]
        assert q_ref[during] == pytest.approx(expected, abs=1e-9)
        nxt = cycles[i + 1].start if i + 1 < len(cycles) else total_s
        pause = (t > t0 + c.reference.duration + h) & (t < nxt)
        assert pause.any() or i + 1 == len(cycles)
        assert np.all(np.abs(q_ref[pause] - baseline) <= 1e-9)


def test_repetitive_sessions_in_a_batch_are_each_session_alone(lexical_policy_yaml):
    """Five sessions (conditions, seeds, body masses, one shorter) in lock step = alone."""
    config = load_node_config(policy_path=lexical_policy_yaml)
    requests = [RepetitiveRequest('no_exo', 0.1, seed=1),
                RepetitiveRequest('promp', 0.1, seed=1, node_config=config),
                RepetitiveRequest('oracle', 0.07, 60.0, seed=2, node_config=config),
                RepetitiveRequest('gravity_share', 0.1, 80.0, seed=3, node_config=config),
                RepetitiveRequest('transparent', 0.1, seed=4, basal_w_per_kg=1.2,
                                  node_config=config)]
    together = run_repetitive_sessions(requests)
    for req, res in zip(requests, together, strict=True):
        alone = run_repetitive(req.condition, req.minutes, req.body_mass_kg, req.seed,
                               req.basal_w_per_kg, req.node_config)
        assert {k: v for k, v in res.items() if k != 'wall_s'} == {
            k: v for k, v in alone.items() if k != 'wall_s'}, req


def test_the_ablation_condition_runs_the_human_reference_checkpoint():
    from exo_policy.runtime import ablation_checkpoint_dir, LearnedReferenceSource
    baselines = ('gravity_share', 'constant_assist', 'learned_constant_stiffness')
    assert CONDITIONS == MODES + baselines
    assert ASSISTED == ('promp', 'learned', 'oracle', 'ablation_human_reference') + baselines
    source = make_source('ablation_human_reference')
    assert isinstance(source, LearnedReferenceSource)
    assert source.policy.meta['config']['reference_target'] == 'human'
    assert make_source('learned').policy.meta['config']['reference_target'] == 'assist'
    assert str(ablation_checkpoint_dir()).endswith('ablation_human_reference')


def test_the_default_policy_assists_the_heavy_lift_and_stays_safe(capsys):
    """The shipped default policy assists the heavy lift with realistic timing.

    The bounded virtual equilibrium of alpha = 0.5 rollouts lowers the muscle effort and
    energy of the heavy lift below no exoskeleton, with a drawn reaction time, speed and
    amplitude (seed 1; the same draw in both conditions), every safety counter at zero.
    Deterministic simulation and shipped weights.
    """
    results = {}
    for policy in ('no_exo', 'learned'):
        rc = main(['--task-text', 'lift a heavy box', '--mass', '70', '--policy', policy,
                   '--seed', '1', '--json'])
        results[policy] = json.loads(capsys.readouterr().out)
        assert rc == 0 and results[policy]['safety_ok'] is True
    learned = results['learned']
    assert learned['timing'] == results['no_exo']['timing']
    assert learned['timing']['onset_s'] >= 0.2
    assert learned['resolved_task'] == 'lift_heavy' and learned['fallback_fraction'] < 0.5
    assert learned['effort'] < 0.9 * results['no_exo']['effort']
    assert learned['metabolic_energy_j'] < 0.95 * results['no_exo']['metabolic_energy_j']
    assert learned['rmse_rad'] < 0.1


def test_intervals_and_the_paired_energy_change():
    from exo_experiments.evaluation.grid import add_energy_change, ci95, summarize  # noqa: PLC0415
    assert ci95([1.0]) is None and ci95([]) is None
    lo, hi = ci95([1.0, 2.0, 3.0])
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.303
    assert (lo + hi) / 2 == pytest.approx(2.0) and hi - lo == pytest.approx(2 * 4.303 / 3 ** .5,
                                                                           rel=1e-3)

    def row(cond, seed, energy, rmse):
        return {'task_id': 'wave', 'condition': cond, 'body_mass_kg': 70.0, 'seed': seed,
                'metabolic_energy_j': energy, 'rmse_rad': rmse, 'effort': 1.0,
                'metabolic_energy_j_per_kg': energy / 70.0, 'mass_seen': True,
                'safety_ok': True}

    rollouts = [row('no_exo', 0, 100.0, 0.02), row('no_exo', 1, 200.0, 0.02),
                row('learned', 0, 90.0, 0.03), row('learned', 1, 190.0, 0.05),
                row('learned', 2, 50.0, 0.04)]  # seed 2 has no no_exo partner
    add_energy_change(rollouts)
    assert rollouts[2]['energy_change_pct'] == pytest.approx(-10.0)  # paired by seed
    assert rollouts[3]['energy_change_pct'] == pytest.approx(-5.0)
    assert rollouts[4]['energy_change_pct'] is None
    summary, _ = summarize(rollouts)
    learned = summary['wave']['learned']
    assert learned['energy_change_pct'] == pytest.approx(-7.5)
    assert learned['energy_change_pct_ci95'] == pytest.approx(ci95([-10.0, -5.0]))
    assert learned['n'] == 3 and learned['rmse_rad_ci95'] == pytest.approx(
        ci95([0.03, 0.05, 0.04]))


def test_the_grid_runs_seeds_and_the_repetitive_conditions_it_is_given(tmp_path):
    from exo_experiments.evaluation.grid import run_evaluation  # noqa: PLC0415
    report = run_evaluation(['no_exo', 'transparent'], ['wave'], [70.0], 0.25, workers=1,
                            progress=False, seeds=2, repetitive_conditions=['transparent'])
    seeds = sorted(r['seed'] for r in report['rollouts'] if r['condition'] == 'transparent')
    assert seeds == [0, 1] and report['config']['seeds'] == [0, 1]
    timing = {(r['condition'], r['seed']): r['timing'] for r in report['rollouts']}
    assert timing[('no_exo', 1)] == timing[('transparent', 1)] != timing[('no_exo', 0)]
    over = report['repetitive']['over_seeds']
    assert set(over) == {'no_exo', 'transparent'} and over['transparent']['seeds'] == [0, 1]
    assert report['summary']['wave']['transparent']['energy_change_pct'] is not None
    assert report['safety_ok'] and report['errors'] == 0
    # The results page is written from this very report: its numbers are the report's.
    from exo_experiments.evaluation.page import evaluation_sections  # noqa: PLC0415
    from exo_experiments.results_page import write_results_page  # noqa: PLC0415
    page = write_results_page([tmp_path / 'results.md'], 'Evaluation',
                              evaluation_sections(report), ['--quick'])[0].read_text()
    wave = report['summary']['wave']['transparent']
    assert f'{wave["rmse_rad"]:.3f} [{wave["rmse_rad_ci95"][0]:.3f}' in page
    assert f'{wave["energy_change_pct"]:+.1f} %' in page
    reduction = over['transparent']['reduction_pct_mean']
    assert f'| transparent | {reduction:+.1f} |' in page
    assert page.startswith('# Evaluation\n\nWritten by `') and '--quick' in page


def test_a_batch_of_rollouts_gives_each_its_numbers_alone():
    """evaluate_rollouts (practice chains, then the rollouts, in lock step) = one at a time.

    The two differ in controller, body mass, seed and exo worn.
    """
    from exo_experiments.evaluation import single  # noqa: PLC0415
    task = find_task('wave')
    requests = [single.EvalRequest(task, condition, mass, seed=seed, practice=1)
                for condition, mass, seed in (('gravity_share', 70.0, 0), ('no_exo', 55.0, 1))]
    single._PRACTISED.clear()  # noqa: SLF001 -- the batch practises every condition
    batch = single.evaluate_rollouts(requests)
    for request, together in zip(requests, batch, strict=True):
        single._PRACTISED.clear()  # noqa: SLF001 -- and each alone practises its own
        alone = single.evaluate_rollout(request.task, request.condition,
                                        request.body_mass_kg, seed=request.seed, practice=1)
        assert {k: v for k, v in alone.items() if k != 'wall_s'} == \
            {k: v for k, v in together.items() if k != 'wall_s'}
    assert batch[0]['safety_ok'] and batch[0]['k_mean'] is not None
