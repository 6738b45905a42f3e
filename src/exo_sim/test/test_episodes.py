"""Tests of exo_sim.episodes: the one eq. 3 + eq. 4 episode recipe."""

import math

import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID, TrajectoryParams
from exo_sim.episodes import PRACTICE_REPETITIONS, practise, simulate_assisted_episode
from exo_sim.human import HumanConfig, PRIOR_THETA
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ProportionalAssist, run_rollout
from exo_sim.stiffness import DEFAULT_FIT, fit_interaction_stiffness, FitSettings

TASK = TASKS_BY_ID['ok_gesture']
SHORT = TrajectoryParams(duration_scale=0.6)


@pytest.fixture(scope='module')
def assisted():
    return simulate_assisted_episode(TASK, 1.0, 70.0, SHORT)


def test_assisted_episode_is_the_practised_rollout_plus_the_fit(assisted):
    config = ExoArmConfig(body_mass_kg=70.0)
    res = run_rollout(TASK, config=config, controller=ProportionalAssist(1.0), params=SHORT,
                      memory=practise(TASK, 1.0, 70.0))
    np.testing.assert_array_equal(assisted.rollout.q_exo, res.q_exo)
    window = int(round(DEFAULT_FIT.window_s / config.timestep))
    k = fit_interaction_stiffness(res.tau_ext, res.q_ref, res.q_exo, window, DEFAULT_FIT.k_min,
                                  DEFAULT_FIT.k_max)
    np.testing.assert_array_equal(assisted.k_int, k)
    assert assisted.exo and assisted.alpha == 1.0 and assisted.fit == DEFAULT_FIT
    assert assisted.practice_repetitions == PRACTICE_REPETITIONS
    assert assisted.duration == pytest.approx(TASK.duration_s * 0.6)
    assert assisted.timestep == config.timestep


def test_phase_is_minus_one_at_rest(assisted):
    phase = assisted.rollout.phase
    t = assisted.rollout.t
    assert np.all(phase[t < 0.5 - 1e-9] == -1.0) and phase[-1] == -1.0
    task = phase >= 0
    assert t[task][0] == pytest.approx(0.5) and phase[task].max() <= 1.0


def test_fit_settings_are_used(assisted):
    narrow = FitSettings(window_s=0.05, k_min=20.0, k_max=30.0)
    episode = simulate_assisted_episode(TASK, 1.0, 70.0, SHORT, fit=narrow, rest_after=0.0)
    assert np.all((episode.k_int >= 20.0) & (episode.k_int <= 30.0))
    assert episode.rollout.t.size < assisted.rollout.t.size


def test_no_exo_episode_has_no_stiffness():
    episode = simulate_assisted_episode(TASK, None, 60.0, SHORT, rest_before=0.2,
                                        rest_after=0.0)
    assert not episode.exo and math.isnan(episode.alpha)
    assert episode.rollout.config.attach_exo is False
    assert np.all(np.isnan(episode.k_int))


def test_practice_adapts_to_the_condition_and_is_cached():
    """Practice teaches the human the exo's help (alpha = 1) but not without exo."""
    helped = practise(TASK, 1.0, 70.0)[TASK.task_id]
    alone = practise(TASK, None, 70.0)[TASK.task_id]
    assert helped[0] < 0.85 < alone[0]  # gain on the own arm's gravity (prior 1)
    assert practise(TASK, 1.0, 70.0)[TASK.task_id] is not helped  # a copy ...
    np.testing.assert_array_equal(practise(TASK, 1.0, 70.0)[TASK.task_id], helped)  # cached
    assert practise(TASK, 1.0, 70.0, repetitions=0) == {}
    naive = simulate_assisted_episode(TASK, 1.0, 70.0, SHORT, practice_repetitions=0,
                                      rest_before=0.1, rest_after=0.0)
    # a naive human learns during its first repetition
    assert naive.rollout.memory[TASK.task_id][0] < 0.95
    np.testing.assert_array_equal(practise(TASK, 1.0, 70.0)[''], helped)  # rest: same model
    assert tuple(PRIOR_THETA) == (1.0, 1.0)


def test_seed_onset_and_human_reach_the_rollout():
    quiet = HumanConfig(noise_cv=0.0)
    a = simulate_assisted_episode(TASK, 0.5, 70.0, SHORT, seed=1, onset_s=0.3, human=quiet,
                                  rest_after=0.0)
    b = simulate_assisted_episode(TASK, 0.5, 70.0, SHORT, seed=2, onset_s=0.3, human=quiet,
                                  rest_after=0.0)
    np.testing.assert_array_equal(a.rollout.q_human, b.rollout.q_human)  # no noise: no seed
    assert a.rollout.onset_s == 0.3 and a.human == quiet
    assert a.rollout.t[np.argmax(a.rollout.phase >= 0)] == pytest.approx(0.8)


def test_invalid_alpha_is_rejected():
    with pytest.raises(ValueError, match='alpha'):
        simulate_assisted_episode(TASK, 1.5)


def test_a_batch_of_episodes_gives_each_its_numbers_alone():
    """simulate_assisted_episodes = each episode alone, its practice alone too.

    The batch runs the practice chains, then the recorded rollouts, in lock step.
    """
    from exo_sim import episodes  # noqa: PLC0415
    requests = [
        episodes.EpisodeRequest(TASK, 1.0, 70.0, SHORT, seed=4, onset_s=0.3),
        episodes.EpisodeRequest(TASKS_BY_ID['wave'], None, 60.0, seed=2, metabolic_every=10),
        episodes.EpisodeRequest(TASK, 0.5, 80.0, TrajectoryParams(amplitude_scale=0.9),
                                seed=9, practice_repetitions=1),
    ]
    episodes._PRACTISED.clear()  # noqa: SLF001 -- the batch practises every condition
    batch = episodes.simulate_assisted_episodes(requests)
    for request, together in zip(requests, batch, strict=True):
        episodes._PRACTISED.clear()  # noqa: SLF001 -- and each alone practises its own
        alone = simulate_assisted_episode(
            request.task, request.alpha, request.body_mass_kg, request.params,
            seed=request.seed, onset_s=request.onset_s,
            practice_repetitions=request.practice_repetitions,
            metabolic_every=request.metabolic_every)
        for name in ('q_exo', 'q_human', 'tau_ext', 'tau_cmd', 'metabolic_power',
                     'activations'):
            assert np.array_equal(getattr(alone.rollout, name),
                                  getattr(together.rollout, name)), name
        assert np.array_equal(alone.k_int, together.k_int, equal_nan=True)
        for key, theta in alone.rollout.memory.items():
            assert np.array_equal(theta, together.rollout.memory[key])
