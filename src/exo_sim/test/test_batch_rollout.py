"""The batched step loop gives every episode the trajectory it has alone, bit for bit."""

from dataclasses import fields

import mujoco
import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID, TrajectoryParams
from exo_sim import batched
from exo_sim.batched import static_optimization
from exo_sim.human import HumanConfig, solve_static_optimization
from exo_sim.model import ExoArm, ExoArmConfig
from exo_sim.parallel import map_jobs
from exo_sim.rollout import (
    ProportionalAssist,
    RolloutResult,
    RolloutSpec,
    run_rollout,
    run_rollouts,
)
from exo_sim.step_loop import step_batch, StepLoop

ARRAYS = [f.name for f in fields(RolloutResult)
          if f.name not in ('task_id', 'config', 'steps_per_second', 'seed', 'onset_s',
                            'memory', 'stepping_cpu_s')]


def _specs() -> list[RolloutSpec]:
    """Episodes that differ in everything a batch must keep apart."""
    return [
        RolloutSpec(TASKS_BY_ID['lift_heavy'], controller=ProportionalAssist(0.5), seed=3,
                    duration=0.6, rest_before=0.2, rest_after=0.1, onset_s=0.1),
        RolloutSpec(TASKS_BY_ID['drink'], config=ExoArmConfig(body_mass_kg=60.0),
                    controller=ProportionalAssist(1.0), seed=11, duration=0.9,
                    rest_before=0.1, rest_after=0.2, metabolic_every=10,
                    params=TrajectoryParams(duration_scale=1.1, amplitude_scale=0.9)),
        RolloutSpec(TASKS_BY_ID['wave'], config=ExoArmConfig(attach_exo=False), seed=0,
                    duration=0.4, rest_before=0.3, rest_after=0.0,
                    memory={'wave': np.array([1.2, 0.9])}),
        # The wearer follows another reference than the task's and is pushed meanwhile.
        RolloutSpec(TASKS_BY_ID['lift_light'], controller=ProportionalAssist(0.3), seed=5,
                    rest_before=0.1, rest_after=0.1, reference=_Hold(0.8), push=(250, 320, -6.0)),
    ]


class _Hold:
    """A wearer's reference that holds one angle (ReferenceTrajectory's interface)."""

    def __init__(self, angle: float) -> None:
        self.angle = angle
        self.duration = 0.5

    def phase(self, tau: float) -> float:
        return min(max(tau / self.duration, 0.0), 1.0)

    def __call__(self, tau: float) -> tuple[float, float, float]:
        return self.angle, 0.0, 0.0


def _same(a: RolloutResult, b: RolloutResult) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x, y), name
    assert a.memory.keys() == b.memory.keys()
    for key in a.memory:
        assert np.array_equal(a.memory[key], b.memory[key])


def test_batch_equals_each_episode_alone():
    """A batch of four = four alone.

    They differ in task, mass, seed, length, exo worn or not, followed reference and push.
    """
    alone = [run_rollouts([spec])[0] for spec in _specs()]
    batch = run_rollouts(_specs())
    assert [len(r.t) for r in batch] == [len(r.t) for r in alone]
    assert len({len(r.t) for r in batch}) == 3  # episodes leave the batch at their end
    held = batch[3]
    assert len(held.t) == 700  # 0.1 s + the followed reference's 0.5 s + 0.1 s
    assert np.all(held.q_ref[100:600] == 0.8)
    for a, b in zip(alone, batch, strict=True):
        _same(a, b)


def test_batch_order_does_not_matter():
    """Reversing the batch reverses the results and changes no number."""
    forward = run_rollouts(_specs())
    backward = run_rollouts(_specs()[::-1])
    for a, b in zip(forward, backward[::-1], strict=True):
        _same(a, b)


def test_run_rollout_is_a_batch_of_one():
    """run_rollout (what sim_node's session and the evaluation call) = run_rollouts([.])."""
    spec = _specs()[0]
    single = run_rollout(spec.task, controller=ProportionalAssist(0.5), seed=3, duration=0.6,
                         rest_before=0.2, rest_after=0.1, onset_s=0.1)
    _same(single, run_rollouts([spec])[0])


def test_a_push_moves_the_forearm():
    """The push is an external torque on the elbow during its steps, and only then."""
    spec = _specs()[3]
    pushed = run_rollouts([spec])[0]
    free = run_rollouts([RolloutSpec(spec.task, controller=ProportionalAssist(0.3), seed=5,
                                     rest_before=0.1, rest_after=0.1,
                                     reference=_Hold(0.8))])[0]
    assert np.array_equal(pushed.q_human[:251], free.q_human[:251])
    assert pushed.q_human[320] < free.q_human[320] - 1e-3  # extension torque: extended


def test_batch_rejects_invalid_specs():
    with pytest.raises(ValueError, match='metabolic_every'):
        run_rollouts([RolloutSpec(TASKS_BY_ID['drink'], metabolic_every=0)])
    with pytest.raises(ValueError, match='push'):
        run_rollouts([RolloutSpec(TASKS_BY_ID['drink'], push=(10, 5, 1.0))])
    with pytest.raises(ValueError, match='push'):
        run_rollouts([RolloutSpec(TASKS_BY_ID['drink'], push=(0, 5, float('nan')))])
    assert run_rollouts([]) == []


def _interp_solution(c, tau, lo, hi):
    """The static optimisation through numpy.interp (the reference of the row kernel)."""
    breaks = np.sort(np.concatenate((lo / c, hi / c)))
    f = (np.minimum(np.maximum(breaks[:, None] * c, lo), hi) * c).sum(axis=1)
    lam = float(np.interp(tau, f, breaks))
    return np.minimum(np.maximum(lam * c, lo), hi)


def test_static_optimization_rows_match_numpy_interp_bit_for_bit():
    """Every row of the vectorised solver = numpy.interp's solution, incl. ends and knots."""
    rng = np.random.default_rng(7)
    n = 400
    c = rng.normal(0.0, 20.0, (n, 6))
    c[np.abs(c) < 1e-3] = 1e-3
    lo = np.repeat(rng.uniform(0.0, 0.3, (n, 1)), 6, axis=1)
    hi = np.ones((n, 6))
    tau = rng.normal(0.0, 30.0, n)
    tau[:20] = 1e4   # beyond reach: the bound solution
    tau[20:40] = -1e4
    a, feasible = static_optimization(c, tau, lo, hi)
    assert not feasible[:40].any() and feasible[40:].any()
    for i in range(n):
        ref = _interp_solution(c[i], tau[i], lo[i], hi[i])
        assert np.array_equal(a[i], ref), i
        one, ok = solve_static_optimization(c[i], tau[i], lo[i], hi[i])
        assert np.array_equal(one, a[i]) and ok == feasible[i]
    # On a knot: tau exactly equal to f at a breakpoint.
    i = 50
    breaks = np.sort(np.concatenate((lo[i] / c[i], hi[i] / c[i])))
    f = (np.minimum(np.maximum(breaks[:, None] * c[i], lo[i]), hi[i]) * c[i]).sum(axis=1)
    knot, _ = static_optimization(c[i:i + 1], f[3:4], lo[i:i + 1], hi[i:i + 1])
    assert np.array_equal(knot[0], _interp_solution(c[i], f[3], lo[i], hi[i]))


def test_vectorised_muscle_curves_are_mujocos_bit_for_bit():
    """gain/bias on arrays = mju_muscleGain / mju_muscleBias per muscle, on every branch.

    Fibre lengths from far below to far beyond the length range (every piece of the
    length curve, and 0 outside it), velocities from fast shortening (beyond -vmax) to
    fast lengthening (beyond the plateau), exact zeros, and non-finite inputs; two body
    masses (different muscle constants per row).
    """
    rng = np.random.default_rng(3)
    arms = [ExoArm(ExoArmConfig(body_mass_kg=m)) for m in (55.0, 90.0)]
    curves = [batched.MuscleCurves(arm.model, arm.muscle_ids) for arm in arms]
    rows = 600
    row_curves = [curves[i % 2] for i in range(rows)]
    lr = np.array([cv.lengthrange for cv in row_curves])
    length = lr[..., 0] + (lr[..., 1] - lr[..., 0]) * rng.uniform(-1.5, 2.5, (rows, 6))
    vel = rng.normal(0.0, 1.0, (rows, 6)) * rng.choice([0.01, 0.1, 1.0, 10.0], (rows, 6))
    vel[::7] = 0.0
    length[5, 0], length[6, 1], vel[7, 2], vel[8, 3] = np.nan, np.inf, np.nan, -np.inf
    where = rng.random((rows, 6)) < 0.5
    gain = batched.muscle_gain(row_curves, length, vel)
    masked = batched.muscle_gain(row_curves, length, vel, where=where)
    bias = batched.muscle_bias(row_curves, length)
    for i, cv in enumerate(row_curves):
        for k in range(6):
            g = mujoco.mju_muscleGain(length[i, k], vel[i, k], cv.lengthrange[k],
                                      cv.acc0[k], cv.gainprm[k])
            b = mujoco.mju_muscleBias(length[i, k], cv.lengthrange[k], cv.acc0[k],
                                      cv.biasprm[k])
            assert np.array_equal(gain[i, k], g, equal_nan=True), (i, k)
            assert np.array_equal(masked[i, k], g if where[i, k] else 0.0,
                                  equal_nan=True), (i, k)
            assert np.array_equal(bias[i, k], b, equal_nan=True), (i, k)
    # A batch too small to vectorise calls MuJoCo: the same numbers.
    assert rows * 6 >= batched.VECTORISE_FROM > 6
    one = batched.muscle_gain(row_curves[:1], length[:1], vel[:1])
    assert np.array_equal(one, gain[:1], equal_nan=True)


def test_humans_keep_their_state_when_a_batch_takes_them_in():
    """Alone, then in a batch, then alone again: each human's own trajectory throughout.

    Different delays, body masses and one human without noise; the batch shrinks.
    """
    humans = [HumanConfig(), HumanConfig(feedback_delay_s=0.05, electromechanical_delay_s=0.01),
              HumanConfig(noise_cv=0.0)]

    def loops() -> list[StepLoop]:
        out = [StepLoop(ExoArmConfig(body_mass_kg=60.0 + 10 * i), human=h, seed=i)
               for i, h in enumerate(humans)]
        for loop in out:
            loop.start_task(TASKS_BY_ID['drink'])
        return out

    def step(group: list[StepLoop]) -> None:
        step_batch(group, [0.3] * len(group), [loop.reference() for loop in group])

    alone, mixed = loops(), loops()
    trace_alone, trace_mixed = [], []
    for k in range(240):
        for loop in alone:
            step([loop])
        if 60 <= k < 180:
            step(mixed if k < 120 else mixed[1:])  # the first leaves the batch at 120
            if k >= 120:
                step(mixed[:1])
        else:
            for loop in mixed:
                step([loop])
        trace_alone.append([loop.arm.data.qpos.copy() for loop in alone])
        trace_mixed.append([loop.arm.data.qpos.copy() for loop in mixed])
    assert np.array_equal(np.array(trace_alone), np.array(trace_mixed))
    assert alone[0].human.last.excitations.tolist() == mixed[0].human.last.excitations.tolist()


def test_muscle_curves_do_not_keep_the_model_alive():
    """The cached curve arguments are copies, not views of the compiled model.

    A view would pin the model (and a batch's many models) after the episodes are gone.
    """
    arm = ExoArm(ExoArmConfig())
    cv = batched.MuscleCurves(arm.model, arm.muscle_ids)
    m = arm.model
    for value, whole in ((cv.lengthrange, m.actuator_lengthrange),
                         (cv.gainprm, m.actuator_gainprm), (cv.biasprm, m.actuator_biasprm)):
        assert not any(np.shares_memory(v, whole) for v in value)


def _square(x: int) -> int:
    return x * x


def test_map_jobs_same_results_in_process_and_on_workers():
    """map_jobs: the same results in this process and on 2 spawned workers (any order)."""
    jobs = list(range(7))
    assert sorted(map_jobs(_square, jobs, workers=1)) == [j * j for j in jobs]
    assert sorted(map_jobs(_square, jobs, workers=2, chunksize=3)) == [j * j for j in jobs]
    with pytest.raises(ValueError, match='workers'):
        list(map_jobs(_square, jobs, workers=0))
    with pytest.raises(ValueError, match='ray_address'):
        list(map_jobs(_square, jobs, ray_address=' '))


def test_practice_chains_are_each_chain_alone():
    """practise_chains: repetition r of every chain in one batch = each chain run alone."""
    from exo_sim.rollout import practise_chains  # noqa: PLC0415

    def chain(task_id: str, alpha: float):
        return lambda memory: RolloutSpec(TASKS_BY_ID[task_id],
                                          controller=ProportionalAssist(alpha), seed=1,
                                          duration=0.3, rest_before=0.1, rest_after=0.1,
                                          memory=memory)
    chains = [chain('lift_heavy', 0.5), chain('drink', 1.0), chain('wave', 0.0)]
    together = practise_chains(chains, [2, 1, 0])
    assert together[2] is None
    for make, n, memory in zip(chains, [2, 1], together, strict=False):
        alone = None
        for _ in range(n):
            alone = run_rollouts([make(alone)])[0].memory
        assert alone.keys() == memory.keys()
        for key in alone:
            assert np.array_equal(alone[key], memory[key])
