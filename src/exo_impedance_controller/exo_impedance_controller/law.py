"""Control law of eq. 8 for the 1-DoF elbow exoskeleton (pure Python, no rclpy).

Exo dynamics (eq. 6): ``M(q) qdd + C(q, qd) qd + g(q) = tau + tau_ext``, where
``tau_ext`` is the interaction torque the human (through the cuff) exerts ON the exo,
positive in flexion -- the convention of eq. 4 (``tau_ext = K (q_d - q_r)``: a human ahead
of a lagging exo pulls it forward) and of the cuff sensor (/interaction_torque).

Target impedance, with ``e = q_d - q``::

    Mt edd + Dt ed + K e = -tau_ext        (eq. 7, sign made physical, see below)

Law::

    tau = C qd + g(q) + M(q)/Mt * (Dt ed + K e) - (1 - M(q)/Mt) * tau_ext

Substituting into eq. 6 gives ``Mt qdd = Dt ed + K e + tau_ext``; with
``edd = qdd_d - qdd`` and a reference of zero acceleration (the policy sends angle and
velocity only) this is the target impedance above: the exo behaves as a mass Mt tied to
the reference by the spring K and damper Dt, and yields to the human's push.

Departure from the paper's printed sign: eq. 7 of the paper reads ``... = +tau_ext`` and
eq. 8 ``- (1 + M/Mt) tau_ext``. With ``tau_ext`` measured on the exo as in eq. 4 and eq. 6,
that makes the exo accelerate AGAINST the human's push (``Mt qdd = ... - tau_ext``): coupled
to the arm through the cuff this is positive feedback, the exo fights the wearer and
saturates (``test_law.py::test_printed_sign_fights_the_wearer`` shows it). The stability
analysis of eq. 9-13 is about ``tau_ext = 0`` and is unchanged by this sign.
The scalar functions accept floats (the controller's hot path) and numpy arrays.
"""

from dataclasses import dataclass
import math

import numpy as np


@dataclass(frozen=True)
class ExoDynamics:
    """Rigid-body model of the exo link about its hinge (eq. 6, 1 DoF, C = 0).

    ``inertia``: M(q), kg*m^2 (constant for a single hinge).
    ``gravity(q) = gravity_sin * sin(q) + gravity_cos * cos(q)``, N*m, the generalized
    bias force in MuJoCo's convention (it appears on the left side of eq. 6).
    """

    inertia: float
    gravity_sin: float
    gravity_cos: float

    def gravity(self, q):
        """Return g(q), N*m."""
        if isinstance(q, float):
            return self.gravity_sin * math.sin(q) + self.gravity_cos * math.cos(q)
        return self.gravity_sin * np.sin(q) + self.gravity_cos * np.cos(q)

    def inertia_at(self, q):
        """Return M(q), kg*m^2 (independent of q for a single hinge)."""
        del q
        return self.inertia

    def coriolis(self, q, qd):
        """Return C(q, qd), zero for a single hinge."""
        del q, qd
        return 0.0


def impedance_torque(q, qd, q_d, qd_d, stiffness, tau_ext, target_inertia, target_damping,
                     inertia, gravity, coriolis=0.0):
    """Return the joint torque of eq. 8 (physical interaction sign, module docstring), N*m.

    q, qd: measured angle (rad) and velocity (rad/s); q_d, qd_d: reference angle and
    velocity; stiffness: K (N*m/rad, already bounded); tau_ext: interaction torque
    (N*m); target_inertia, target_damping: Mt, Dt of eq. 7; inertia: M(q); gravity: g(q)
    (N*m); coriolis: C(q, qd) (N*m*s/rad). No clamping here: see safety.py.
    """
    e = q_d - q
    ed = qd_d - qd
    ratio = inertia / target_inertia
    return (coriolis * qd + gravity + ratio * (target_damping * ed + stiffness * e)
            - (1.0 - ratio) * tau_ext)


def exo_acceleration(q, qd, tau, tau_ext, dynamics: ExoDynamics):
    """Forward dynamics of eq. 6: qdd = (tau + tau_ext - C qd - g(q)) / M(q)."""
    return ((tau + tau_ext - dynamics.coriolis(q, qd) * qd - dynamics.gravity(q))
            / dynamics.inertia_at(q))
