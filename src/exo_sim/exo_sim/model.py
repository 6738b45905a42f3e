"""MyoSim elbow + 1-DoF exoskeleton model composed with ``mujoco.MjSpec``.

The musculoskeletal arm is the MyoHub ``myoelbow_1dof6muscles_1dofexo.xml`` model, loaded
from the installed ``myo_sim`` package (never copied into this repository). On top of it
:func:`build_model` composes what the paper needs:

* the simulation timestep (1 kHz by default);
* forearm+hand and upper-arm mass/inertia scaled to the subject's body mass;
* muscle strength (maximal isometric force of the six muscles, which also sets their
  passive force and, in :mod:`exo_sim.metabolic`, their mass) scaled with body mass by
  geometric similarity, ``F_max = F_max,model * (m / 70 kg)^(2/3)``
  (:func:`strength_scale`);
* a separate exoskeleton link with its own hinge ``exo_elbow_joint`` coaxial with the
  human elbow ``r_elbow_flex``, coupled to the forearm by a compliant cuff (a fixed
  tendon ``cuff`` = q_exo - q_elbow with stiffness and damping), so that the interaction
  torque is a physical force of the simulation;
* the ``Exo`` motor retargeted to the exo hinge (gear 1, hardware torque limit);
* a payload in the hand (body ``carry_weight``);
* collision detection switched off when no geom pair of the composed model can collide
  (:func:`can_collide`: the MyoHub elbow's geoms are visual), which changes no result;
* without the model's visual meshes (the skeleton's bones, 74 meshes, 0.2 M faces: 41 MB of
  the 41.3 MB compiled model and 60 % of the time :func:`build_model` takes). They are
  decoration, none can collide, and the mass MuJoCo would derive from them is kept: a body
  that takes its inertia from its meshes gets, as an explicit inertial, the one MuJoCo
  computes for it from the model with its meshes (:func:`mesh_inertials`, once per
  process), so every compiled mass, inertia and trajectory is the one of the model with its
  meshes (``visual_meshes=True``; the test steps both 1500 times and compares bit for bit).

Sign conventions: joint angles and torques are positive in elbow flexion.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import importlib.resources
import math
from pathlib import Path

import mujoco
import numpy as np

from exo_contract.checks import check_range
from exo_contract.dataset import MUSCLES

MYO_ELBOW_XML = 'models/legacy/elbow/myoelbow_1dof6muscles_1dofexo.xml'

# Anthropometric segment mass fractions of total body mass, de Leva (1996), "Adjustments to
# Zatsiorsky-Seluyanov's segment inertia parameters", J. Biomech. 29(9):1223-1230, Table 4
# (males): upper arm 2.71 %, forearm 1.62 %, hand 0.61 % (forearm + hand 2.23 %). These agree
# with Winter (2009), Biomechanics and Motor Control of Human Movement, Table 4.1 (upper arm
# 2.8 %, forearm and hand 2.2 %). Segment inertias are scaled with the mass (same geometry).
UPPER_ARM_MASS_FRACTION = 0.0271
FOREARM_HAND_MASS_FRACTION = 0.0223

HUMAN_JOINT = 'r_elbow_flex'
EXO_JOINT = 'exo_elbow_joint'
EXO_BODY = 'exo_link'
EXO_ACTUATOR = 'Exo'
CUFF_TENDON = 'cuff'
FOREARM_BODY = 'r_ulna_radius_hand'
UPPER_ARM_BODY = 'r_humerus'
PAYLOAD_BODY = 'carry_weight'

# Muscle strength scaling with body mass. Geometric similarity (Hill 1950; the allometric
# normalisation recommended for strength by Jaric 2002, "Muscle strength testing: use of
# normalisation for body size", Sports Med. 32(10):615-631, and Jaric, Mirkov & Markovic
# 2005, J. Strength Cond. Res. 19(2):467-474): force ~ cross-sectional area ~ length^2 ~
# mass^(2/3). The MyoSim elbow's muscle forces (from the Holzbaur et al. 2005 upper-limb
# model of an adult male) are taken as those of a REFERENCE_BODY_MASS_KG subject, the
# default body mass of exo-vic and the middle of the paper's 60/70/80 kg.
REFERENCE_BODY_MASS_KG = 70.0
STRENGTH_MASS_EXPONENT = 2.0 / 3.0

# Smallest mass MuJoCo gets for the payload body when the payload is 0 kg.
MIN_PAYLOAD_MASS_KG = 1e-3
# Radius of gyration used for the payload inertia (a compact object held in the hand).
PAYLOAD_GYRATION_RADIUS_M = 0.05
# Length of the exo link used for its rod-like inertia about the centre of mass.
EXO_LINK_LENGTH_M = 0.30


def myo_elbow_xml_path() -> Path:
    """Return the path of the installed MyoSim elbow + exo XML (from the ``myo_sim`` package)."""
    root = importlib.resources.files('myo_sim')
    return Path(str(root.joinpath(MYO_ELBOW_XML)))



@dataclass(frozen=True)
class ExoArmConfig:
    """Configuration of the simulated arm + exoskeleton.

    Attributes:
        body_mass_kg: subject body mass in kg, in [40, 150] (the paper uses 60/70/80).
        payload_kg: mass held in the hand in kg, in [0, 20].
        cuff_stiffness: cuff spring stiffness in N*m/rad, > 0.
        cuff_damping: cuff damping in N*m*s/rad, >= 0.
        exo_link_mass: exoskeleton link mass in kg, > 0.
        exo_link_com: distance of the exo link centre of mass from the elbow axis in m,
            along the forearm, in (0, 0.5].
        exo_torque_limit: hardware motor torque limit in N*m, > 0.
        timestep: simulation timestep in s, in (0, 0.01].
        attach_exo: False gives the "no exo" condition (no exo body, no cuff, no motor).
        strength_factor: the subject's muscle strength relative to the body-mass scaling
            (:func:`strength_scale`), in [0.5, 2].
        forearm_mass_fraction: forearm + hand mass / body mass, in [0.015, 0.03] (default
            de Leva's 2.23 %, :data:`FOREARM_HAND_MASS_FRACTION`).

    """

    body_mass_kg: float = 70.0
    payload_kg: float = 0.0
    cuff_stiffness: float = 150.0
    cuff_damping: float = 2.0
    exo_link_mass: float = 1.0
    exo_link_com: float = 0.15
    exo_torque_limit: float = 30.0
    timestep: float = 0.001
    attach_exo: bool = True
    strength_factor: float = 1.0
    forearm_mass_fraction: float = FOREARM_HAND_MASS_FRACTION

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        check_range('body_mass_kg', self.body_mass_kg, 40.0, 150.0, 'kg')
        check_range('payload_kg', self.payload_kg, 0.0, 20.0, 'kg')
        check_range('cuff_stiffness', self.cuff_stiffness, 1e-6, 1e5, 'N*m/rad')
        check_range('cuff_damping', self.cuff_damping, 0.0, 1e3, 'N*m*s/rad')
        check_range('exo_link_mass', self.exo_link_mass, 1e-3, 20.0, 'kg')
        check_range('exo_link_com', self.exo_link_com, 1e-3, 0.5, 'm')
        check_range('exo_torque_limit', self.exo_torque_limit, 1e-3, 500.0, 'N*m')
        check_range('timestep', self.timestep, 1e-5, 0.01, 's')
        check_range('strength_factor', self.strength_factor, 0.5, 2.0, '')
        check_range('forearm_mass_fraction', self.forearm_mass_fraction, 0.015, 0.03, '')
        if not isinstance(self.attach_exo, bool):
            raise ValueError(f'attach_exo must be a bool, got {self.attach_exo!r}')


def strength_scale(body_mass_kg: float) -> float:
    """Factor on the model's maximal isometric muscle forces for ``body_mass_kg``.

    ``(body_mass_kg / REFERENCE_BODY_MASS_KG) ** (2/3)`` (geometric similarity, see
    :data:`STRENGTH_MASS_EXPONENT`); 1 at 70 kg, 0.90 at 60 kg, 1.18 at 90 kg.
    """
    check_range('body_mass_kg', body_mass_kg, 40.0, 150.0, 'kg')
    return float((body_mass_kg / REFERENCE_BODY_MASS_KG) ** STRENGTH_MASS_EXPONENT)


def _payload_inertia(mass: float) -> np.ndarray:
    """Diagonal inertia (3,) of the payload: a solid sphere of fixed radius of gyration."""
    i = 0.4 * mass * PAYLOAD_GYRATION_RADIUS_M**2
    return np.array([i, i, i])


def _scale_body(body: mujoco.MjsBody, new_mass: float) -> None:
    """Scale an explicit-inertial body to ``new_mass`` keeping its geometry (inertia ~ mass)."""
    ratio = new_mass / body.mass
    body.mass = new_mass
    body.inertia = np.asarray(body.inertia) * ratio
    full = np.asarray(body.fullinertia)
    if np.all(np.isfinite(full)):
        body.fullinertia = full * ratio


@functools.lru_cache(maxsize=1)
def mesh_inertials() -> dict[str, tuple[float, tuple, tuple, tuple]]:
    """Mass properties of the MyoSim bodies whose inertia MuJoCo derives from their meshes.

    ``{body: (mass, ipos, iquat, inertia)}`` as compiled from the unmodified MyoSim XML (its
    visual meshes included), for every body that has a mesh geom and no explicit inertial.
    Computed once per process (about 0.1 s).
    """
    spec = mujoco.MjSpec.from_file(str(myo_elbow_xml_path()))
    names = {geom.parent.name for geom in spec.geoms
             if geom.type == mujoco.mjtGeom.mjGEOM_MESH and not geom.parent.explicitinertial}
    model = spec.compile()
    if can_collide(model):  # then the meshes would be more than decoration
        raise RuntimeError('the MyoSim model has geoms that can collide: its meshes cannot '
                           'be dropped as decoration')
    return {name: (float(model.body(name).mass[0]), tuple(model.body(name).ipos),
                   tuple(model.body(name).iquat), tuple(model.body(name).inertia))
            for name in sorted(names)}


def _without_meshes(spec: mujoco.MjSpec) -> None:
    """Delete the visual meshes of ``spec``, keeping every body's mass properties."""
    inertials = mesh_inertials()
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
            spec.delete(geom)
    for mesh in list(spec.meshes):
        spec.delete(mesh)
    for name, (mass, ipos, iquat, inertia) in inertials.items():
        body = spec.body(name)
        body.explicitinertial = True
        body.mass = mass
        body.ipos = ipos
        body.iquat = iquat
        body.inertia = inertia
        body.fullinertia = [np.nan, 0, 0, 0, 0, 0]


def build_model(config: ExoArmConfig = ExoArmConfig(), *,
                visual_meshes: bool = False) -> mujoco.MjModel:
    """Compose and compile the arm + exo model for ``config``.

    ``visual_meshes``: keep the MyoSim model's visual meshes (for rendering; the dynamics
    are the same bit for bit, see the module docstring).

    Returns:
        The compiled ``mujoco.MjModel``. With ``attach_exo`` it has nq = nv = 2
        (``exo_elbow_joint``, ``r_elbow_flex``), nu = 7 (``Exo`` + six muscles) and a
        fixed tendon ``cuff``; without it nq = nv = 1 and nu = 6 (muscles only).

    """
    spec = mujoco.MjSpec.from_file(str(myo_elbow_xml_path()))
    if not visual_meshes:
        _without_meshes(spec)
    spec.option.timestep = config.timestep

    forearm = spec.body(FOREARM_BODY)
    _scale_body(forearm, config.forearm_mass_fraction * config.body_mass_kg)
    _scale_body(spec.body(UPPER_ARM_BODY), UPPER_ARM_MASS_FRACTION * config.body_mass_kg)

    # Muscles: force computed with the activation at the end of the step ("actearly"), so a
    # commanded excitation acts without a one-step delay; maximal isometric force (gainprm[2],
    # and biasprm[2] of the passive force) scaled with body mass.
    strength = strength_scale(config.body_mass_kg) * config.strength_factor
    for name in MUSCLES:
        muscle = spec.actuator(name)
        muscle.actearly = True
        gain = np.array(muscle.gainprm, dtype=float)
        bias = np.array(muscle.biasprm, dtype=float)
        gain[2] *= strength
        bias[2] *= strength
        muscle.gainprm = gain
        muscle.biasprm = bias

    payload = spec.body(PAYLOAD_BODY)
    mass = max(config.payload_kg, MIN_PAYLOAD_MASS_KG)
    payload.explicitinertial = True
    payload.mass = mass
    payload.ipos = [0.0, 0.0, 0.0]
    payload.inertia = _payload_inertia(mass)
    payload.fullinertia = [np.nan, 0, 0, 0, 0, 0]

    elbow = spec.joint(HUMAN_JOINT)
    motor = spec.actuator(EXO_ACTUATOR)
    if config.attach_exo:
        humerus = spec.body(UPPER_ARM_BODY)
        link = humerus.add_body(name=EXO_BODY, pos=forearm.pos, quat=forearm.quat)
        # Centre of mass along the forearm direction (the forearm body's -y axis).
        m = config.exo_link_mass
        r = config.exo_link_com
        link.explicitinertial = True
        link.mass = m
        link.ipos = [0.0, -r, 0.0]
        rod = m * EXO_LINK_LENGTH_M**2 / 12.0
        link.inertia = [rod, 0.5 * m * 0.02**2, rod]
        link.add_joint(
            name=EXO_JOINT, type=mujoco.mjtJoint.mjJNT_HINGE, pos=elbow.pos, axis=elbow.axis,
            range=elbow.range, limited=mujoco.mjtLimited.mjLIMITED_TRUE,
            damping=[0.0, 0.0, 0.0], armature=0.0, stiffness=[0.0, 0.0, 0.0])
        link.add_geom(
            name='exo_link_geom', type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=[0.03, 0.0, 0.06, 0.03, -EXO_LINK_LENGTH_M, 0.06], size=[0.012, 0, 0],
            contype=0, conaffinity=0, density=0.0, group=1, rgba=[0.2, 0.5, 0.9, 0.8])
        cuff = spec.add_tendon(name=CUFF_TENDON, stiffness=[config.cuff_stiffness, 0, 0],
                               damping=[config.cuff_damping, 0, 0], springlength=[0.0, 0.0])
        cuff.wrap_joint(EXO_JOINT, 1.0)
        cuff.wrap_joint(HUMAN_JOINT, -1.0)
        motor.target = EXO_JOINT
        motor.trntype = mujoco.mjtTrn.mjTRN_JOINT
        motor.gear = [1.0, 0, 0, 0, 0, 0]
        motor.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        motor.ctrlrange = [-config.exo_torque_limit, config.exo_torque_limit]
    else:
        spec.delete(motor)
    model = spec.compile()
    if not can_collide(model):
        # No geom pair can ever make a contact: skipping collision detection leaves every
        # step's result unchanged and saves its broad phase (~20 % of a step).
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    return model


def can_collide(model: mujoco.MjModel) -> bool:
    """Whether a contact can arise in ``model``.

    True with an explicit contact pair, or two geoms whose ``contype`` and ``conaffinity``
    bits match (MuJoCo's filter, ignoring the exclusions that could only remove pairs).
    """
    if model.npair > 0:
        return True
    contype = model.geom_contype.astype(np.int64)
    conaffinity = model.geom_conaffinity.astype(np.int64)
    return bool(np.any((contype[:, None] & conaffinity[None, :]) != 0))


@dataclass(frozen=True)
class ExoDynamics:
    """Rigid-body parameters of the exo joint (eq. 6) identified from the compiled model.

    Attributes:
        inertia: exo joint diagonal of the mass matrix in kg*m^2 (constant for a hinge).
        gravity_sin: coefficient of sin(q) in the gravity torque, N*m.
        gravity_cos: coefficient of cos(q) in the gravity torque, N*m.

    The gravity torque in MuJoCo's bias convention (``qfrc_bias`` at zero velocity, i.e. the
    torque the motor must supply to hold the link) is
    ``g(q) = gravity_sin * sin(q) + gravity_cos * cos(q)``.

    """

    inertia: float
    gravity_sin: float
    gravity_cos: float

    def gravity(self, q: float | np.ndarray) -> float | np.ndarray:
        """Gravity torque g(q) in N*m, same shape as ``q``."""
        return self.gravity_sin * np.sin(q) + self.gravity_cos * np.cos(q)


class ExoArm:
    """MuJoCo model + data of the arm with (optionally) the exo, for one configuration.

    Invariant: between calls the position- and velocity-dependent quantities of ``data``
    (mass matrix, bias forces, tendon and actuator lengths/velocities/moments) belong to
    the current state, so controllers can read them before :meth:`step`. ``step`` runs
    ``mj_step2`` (actuation, acceleration, integration) followed by ``mj_step1`` of the new
    state, which is equivalent to ``mj_step``.
    """

    EXO_JOINT = EXO_JOINT
    HUMAN_JOINT = HUMAN_JOINT
    MUSCLES = MUSCLES

    def __init__(self, config: ExoArmConfig = ExoArmConfig()) -> None:
        """Build the model for ``config`` and reset it to the default posture."""
        self.config = config
        self.model = build_model(config)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.has_exo = config.attach_exo
        self.human_dof = int(m.jnt_dofadr[m.joint(HUMAN_JOINT).id])
        self.human_qpos = int(m.jnt_qposadr[m.joint(HUMAN_JOINT).id])
        self.muscle_ids = np.array([m.actuator(n).id for n in MUSCLES], dtype=np.intp)
        # The same actuators as a slice when they are contiguous (indexing without a copy).
        ids = self.muscle_ids
        contiguous = bool(np.all(np.diff(ids) == 1))
        self.muscle_index = slice(int(ids[0]), int(ids[-1]) + 1) if contiguous else ids
        act = m.actuator_actadr[ids]
        # Their activations' addresses in data.act, as a slice when contiguous.
        self.muscle_act_index = (slice(int(act[0]), int(act[-1]) + 1)
                                 if bool(np.all(np.diff(act) == 1)) else act)
        self.payload_body = int(m.body(PAYLOAD_BODY).id)
        if self.has_exo:
            self.exo_dof = int(m.jnt_dofadr[m.joint(EXO_JOINT).id])
            self.exo_qpos = int(m.jnt_qposadr[m.joint(EXO_JOINT).id])
            self.exo_actuator = int(m.actuator(EXO_ACTUATOR).id)
            self.cuff_id = int(m.tendon(CUFF_TENDON).id)
            self._cuff_k = float(m.tendon_stiffness[self.cuff_id])
            self._cuff_d = float(m.tendon_damping[self.cuff_id])
        else:
            self.exo_dof = self.human_dof
            self.exo_qpos = self.human_qpos
            self.exo_actuator = -1
            self.cuff_id = -1
        self._dense_moment = np.zeros((m.nu, m.nv))
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, q0: float = 0.3) -> None:
        """Put both joints at ``q0`` rad with zero velocity, muscles at minimum activation."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.human_qpos] = q0
        d.qpos[self.exo_qpos] = q0
        amin = m.actuator_ctrlrange[self.muscle_ids, 0]
        d.act[m.actuator_actadr[self.muscle_ids]] = amin
        d.ctrl[self.muscle_ids] = amin
        mujoco.mj_forward(m, d)

    def step(self, n: int = 1) -> None:
        """Advance the simulation by ``n`` timesteps with the current controls."""
        m, d = self.model, self.data
        for _ in range(n):
            mujoco.mj_step2(m, d)
            mujoco.mj_step1(m, d)

    @property
    def time(self) -> float:
        """Simulation time in s."""
        return float(self.data.time)

    def exo_state(self) -> tuple[float, float]:
        """(q, qd) of the exo joint in rad, rad/s; of the human elbow when no exo is attached."""
        return float(self.data.qpos[self.exo_qpos]), float(self.data.qvel[self.exo_dof])

    def human_state(self) -> tuple[float, float]:
        """(q, qd) of the human elbow ``r_elbow_flex`` in rad, rad/s."""
        return float(self.data.qpos[self.human_qpos]), float(self.data.qvel[self.human_dof])

    def interaction_torque(self) -> float:
        """Torque the cuff exerts on the exo in N*m, positive in flexion (tau_ext, eq. 6-8).

        Read from the physical cuff tendon force: with tendon length L = q_exo - q_h,
        tau_ext = -(k L + d dL/dt) = k (q_h - q_exo) + d (qd_h - qd_exo). 0 without exo.
        """
        if not self.has_exo:
            return 0.0
        d = self.data
        return -(self._cuff_k * float(d.ten_length[self.cuff_id])
                 + self._cuff_d * float(d.ten_velocity[self.cuff_id]))

    def apply_exo_torque(self, tau: float) -> float:
        """Write the exo motor command (N*m), clipped to the hardware limit; returns it.

        Non-finite commands give 0. No-op (returns 0) without exo.
        """
        if not self.has_exo:
            return 0.0
        tau = float(tau)
        if not math.isfinite(tau):
            tau = 0.0
        lim = self.config.exo_torque_limit
        tau = min(max(tau, -lim), lim)
        self.data.ctrl[self.exo_actuator] = tau
        return tau

    def set_payload(self, kg: float) -> None:
        """Change the mass held in the hand at run time (kg, in [0, 20])."""
        check_range('payload_kg', kg, 0.0, 20.0, 'kg')
        mass = max(float(kg), MIN_PAYLOAD_MASS_KG)
        self.model.body_mass[self.payload_body] = mass
        self.model.body_inertia[self.payload_body] = _payload_inertia(mass)
        # mj_setConst works at qpos0 in the MjData it is given: use a scratch one so the
        # running state (posture, velocities, activations) is kept.
        mujoco.mj_setConst(self.model, mujoco.MjData(self.model))
        mujoco.mj_forward(self.model, self.data)

    @property
    def payload_kg(self) -> float:
        """Current payload mass in kg (the minimum placeholder mass reads as itself)."""
        return float(self.model.body_mass[self.payload_body])

    # ---------------------------------------------------------------- muscles
    def muscle_moments(self, out: np.ndarray | None = None) -> np.ndarray:
        """Moment arms (6,) of the muscles about the human elbow, m (positive = extensor).

        A new array, or written into ``out`` (6,) and returned.
        """
        d = self.data
        mujoco.mju_sparse2dense(self._dense_moment, d.actuator_moment, d.moment_rownnz,
                                d.moment_rowadr, d.moment_colind)
        column = self._dense_moment[self.muscle_index, self.human_dof]
        if out is None:
            return column.copy()
        out[:] = column
        return out

    def biological_torque(self) -> float:
        """Net torque of the six muscles about the elbow in N*m, positive in flexion.

        Sum over muscles of actuator force times moment arm, as applied by the last step
        (MuJoCo's ``qfrc_actuator`` of the elbow, which only the muscles drive).
        """
        return float(self.data.qfrc_actuator[self.human_dof])

    def muscle_activations(self, out: np.ndarray | None = None) -> np.ndarray:
        """Muscle activations (6,) in [0, 1], order :attr:`MUSCLES`.

        A new array, or written into ``out`` (6,) and returned.
        """
        if out is None:
            return self.data.act[self.muscle_act_index].copy()
        out[:] = self.data.act[self.muscle_act_index]
        return out

    # -------------------------------------------------------------- identification
    def exo_dynamics(self) -> ExoDynamics:
        """Identify the exo joint's inertia and gravity coefficients from the compiled model.

        Evaluates ``qfrc_bias`` of the exo joint at zero velocity at several angles on a
        scratch ``MjData`` and least-squares fits ``a sin q + b cos q`` (exact for a hinge).
        Without exo, the human elbow's forearm dynamics are returned.
        """
        m = self.model
        d = mujoco.MjData(m)
        angles = np.linspace(-math.pi, math.pi, 13)
        bias = np.empty_like(angles)
        inertia = 0.0
        for i, q in enumerate(angles):
            d.qpos[:] = 0.0
            d.qvel[:] = 0.0
            d.qpos[self.exo_qpos] = q
            mujoco.mj_forward(m, d)
            bias[i] = d.qfrc_bias[self.exo_dof]
            full = np.zeros((m.nv, m.nv))
            mujoco.mj_fullM(m, d, full)
            inertia = float(full[self.exo_dof, self.exo_dof])
        basis = np.column_stack([np.sin(angles), np.cos(angles)])
        coef, *_ = np.linalg.lstsq(basis, bias, rcond=None)
        return ExoDynamics(inertia=inertia, gravity_sin=float(coef[0]),
                           gravity_cos=float(coef[1]))
