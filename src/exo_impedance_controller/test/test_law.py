"""Tests of the eq. 8 law: substituting into eq. 6 yields the target impedance eq. 7."""

import math

import numpy as np
from scipy.integrate import solve_ivp

from exo_impedance_controller.law import exo_acceleration, ExoDynamics, impedance_torque

MT, DT = 0.25, 5.0
DYN = ExoDynamics(inertia=0.03, gravity_sin=1.4, gravity_cos=0.3)


def test_gravity_and_inertia():
    assert math.isclose(DYN.gravity(0.0), 0.3)
    assert math.isclose(DYN.gravity(math.pi / 2), 1.4)
    assert np.allclose(DYN.gravity(np.array([0.0, math.pi / 2])), [0.3, 1.4])
    assert DYN.inertia_at(1.0) == 0.03


def test_static_terms():
    # At rest on the reference with no interaction the law is pure gravity compensation.
    tau = impedance_torque(1.0, 0.0, 1.0, 0.0, 100.0, 0.0, MT, DT, 0.03, DYN.gravity(1.0))
    assert math.isclose(tau, DYN.gravity(1.0))
    # Interaction torque enters with -(1 - M/Mt); C qd term is kept in the API.
    tau = impedance_torque(1.0, 2.0, 1.0, 2.0, 100.0, 1.0, MT, DT, 0.03, 0.0, coriolis=0.5)
    assert math.isclose(tau, 0.5 * 2.0 - (1.0 - 0.03 / MT))


def _closed_loops(k, tau_ext_fn, q_d_fn, qd_d_fn, t_end=1.0):
    """Integrate eq. 6 under eq. 8 and, separately, eq. 7; return both error histories."""

    def exo(t, x):
        q, qd = x
        tau_ext = tau_ext_fn(t)
        tau = impedance_torque(q, qd, q_d_fn(t), qd_d_fn(t), k, tau_ext, MT, DT,
                               DYN.inertia_at(q), DYN.gravity(q))
        return [qd, exo_acceleration(q, qd, tau, tau_ext, DYN)]

    def target(t, x):
        e, ed = x
        return [ed, (-tau_ext_fn(t) - DT * ed - k * e) / MT]

    ts = np.linspace(0.0, t_end, 201)
    q0, qd0 = 0.4, -0.3
    a = solve_ivp(exo, (0, t_end), [q0, qd0], t_eval=ts, rtol=1e-10, atol=1e-12)
    b = solve_ivp(target, (0, t_end), [q_d_fn(0) - q0, qd_d_fn(0) - qd0], t_eval=ts,
                  rtol=1e-10, atol=1e-12)
    e_exo = np.array([q_d_fn(t) for t in ts]) - a.y[0]
    return e_exo, b.y[0]


def test_substitution_into_eq6_gives_eq7():
    # Constant-velocity reference (qdd_d = 0) and a time-varying interaction torque.
    e_exo, e_target = _closed_loops(
        80.0, lambda t: 2.0 * math.sin(7.0 * t), lambda t: 1.0 + 0.5 * t, lambda t: 0.5)
    assert np.max(np.abs(e_exo - e_target)) < 1e-7
    assert np.max(np.abs(e_target)) > 1e-2  # the comparison is not trivial


def test_wrong_law_is_detected():
    # The check can fail: dropping the gravity term breaks the match.
    def exo(t, x):
        q, qd = x
        tau = impedance_torque(q, qd, 1.0, 0.0, 80.0, 0.0, MT, DT, DYN.inertia, 0.0)
        return [qd, exo_acceleration(q, qd, tau, 0.0, DYN)]

    a = solve_ivp(exo, (0, 1.0), [1.0, 0.0], rtol=1e-10, atol=1e-12)
    assert abs(1.0 - a.y[0][-1]) > 1e-3


def _coupled_to_wearer(sign: float) -> np.ndarray:
    """Exo under the law (interaction term scaled by ``sign``) tied to a still forearm.

    The forearm is held at 1.2 rad and coupled through a 150 N*m/rad cuff, the reference
    is 1.0 rad: a physical impedance settles between the two.
    """
    q_h, k_cuff, k = 1.2, 150.0, 50.0

    def exo(t, x):
        q, qd = x
        tau_ext = k_cuff * (q_h - q)  # torque of the cuff on the exo
        ratio = DYN.inertia / MT
        tau = (DYN.gravity(q) + ratio * (DT * (0.0 - qd) + k * (1.0 - q))
               - (1.0 + sign * -ratio) * tau_ext)
        return [qd, exo_acceleration(q, qd, tau, tau_ext, DYN)]

    return solve_ivp(exo, (0, 3.0), [1.0, 0.0], rtol=1e-9, atol=1e-12,
                     t_eval=np.linspace(0, 3.0, 301)).y[0]


def test_law_yields_to_the_wearer():
    q = _coupled_to_wearer(sign=1.0)
    law = impedance_torque(1.0, 0.0, 1.0, 0.0, 50.0, 3.0, MT, DT, DYN.inertia, 0.0)
    assert math.isclose(law, -(1.0 - DYN.inertia / MT) * 3.0)
    # Static balance: K (q - q_d) = k_cuff (q_h - q) -> q = (50 + 180) / 200 = 1.15 rad.
    assert abs(q[-1] - 1.15) < 1e-3
    assert np.all(np.abs(q) < 2.0)


def test_printed_sign_fights_the_wearer():
    # The paper's printed -(1 + M/Mt) tau_ext with tau_ext measured on the exo: the exo
    # accelerates against the push and runs away from the wearer (positive feedback).
    q = _coupled_to_wearer(sign=-1.0)
    assert np.max(np.abs(q - 1.15)) > 1.0
