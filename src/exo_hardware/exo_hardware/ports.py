"""What the bridge needs from any opensourceleg actuator and interaction sensor.

:class:`ActuatorPort` opens, zeroes/homes, reads, writes and disables an actuator (Dephy,
T-Motor, Moteus or the offline one); opensourceleg's safety decorators check every reading.
The factories build the actuator and the interaction torque source named by the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
import inspect
import math
import os
from pathlib import Path
import sys
import time
from typing import Any, Callable, Optional

from opensourceleg.actuators.base import (
    ActuatorBase,
    CONTROL_MODES,
)
from opensourceleg.extras.safety import SafetyManager
from opensourceleg.extras.safety.safety import custom_criteria, is_within_range

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.
from exo_hardware.arm_model import ArmModel, OfflineCuffSensor, SimulatedElbowActuator
from exo_hardware.params import BridgeParams


# --- Adapter between the bridge and any opensourceleg actuator ---------------------------
class SensorReadError(Exception):
    """A reading failed opensourceleg's safety decorators (non-finite, out of range)."""


@dataclass
class Reading:
    """One actuator reading in the joint frame."""

    q: float
    qd: float
    current_ma: float
    case_temperature: Optional[float]
    winding_temperature: Optional[float]


MIN_CASE_TEMPERATURE = -20.0  # degC: a reading outside is a broken sensor
MAX_CASE_TEMPERATURE = 200.0


class ActuatorPort:
    """What the bridge does with an opensourceleg actuator, whatever its make.

    Coroutine APIs (Moteus) run on a private asyncio loop. The readings the bridge uses
    carry opensourceleg safety decorators (``SafetyManager``): non-finite positions and
    speeds, and case temperatures outside [-20, 200] degC, raise :class:`SensorReadError`.

    Args:
        actuator: an opensourceleg actuator (not started).
        direction: +1 when positive actuator rotation is flexion, -1 otherwise.

    """

    def __init__(self, actuator: ActuatorBase, direction: int = 1) -> None:
        self.actuator = actuator
        self.direction = 1 if direction >= 0 else -1
        self.enabled = False
        self.opened = False
        self._loop = None
        self._safety = SafetyManager()
        finite = custom_criteria(lambda v: v is not None and math.isfinite(v))
        self._safety.add_safety(actuator, 'output_position', finite)
        self._safety.add_safety(actuator, 'output_velocity', finite)
        self._safety.add_safety(actuator, 'case_temperature',
                                is_within_range(MIN_CASE_TEMPERATURE, MAX_CASE_TEMPERATURE))
        self.torque_mode = self._torque_mode()

    def _torque_mode(self) -> CONTROL_MODES:
        configs = self.actuator._CONTROL_MODE_CONFIGS
        for mode in (CONTROL_MODES.CURRENT, CONTROL_MODES.TORQUE):
            if getattr(configs, mode.name, None) is not None:
                return mode
        raise ValueError(f'{type(self.actuator).__name__} has no current or torque mode')

    def _call(self, method: Callable, *args, **kwargs) -> Any:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            if self._loop is None:
                import asyncio
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(result)
        return result

    def open(self) -> None:
        """Open the device and start streaming; opensourceleg safety checks from now on."""
        self._call(self.actuator.start)
        self.opened = True
        self._safety.start()
        self._call(self.actuator.update)

    def zero(self, mode: str, home_angle: float) -> float:
        """Zeroing/homing: make the present posture read ``home_angle``; return the offset.

        ``current``: the arm is held at ``home_angle`` (no motion). ``hardstop``: the SDK's
        homing routine first drives the joint to its stop (only without a wearer).
        ``none``: absolute encoder, nothing changes.
        """
        if mode == 'none':
            return 0.0
        if mode == 'hardstop':
            self._call(self.actuator.home)
        self._call(self.actuator.update)
        act = self.actuator
        offset = (act.output_position - self.direction * home_angle) * act.gear_ratio
        act.set_motor_zero_position(act.motor_zero_position + offset)
        return offset

    def enable(self) -> None:
        """Torque mode with zero torque (and the SDK's default current gains where needed)."""
        act = self.actuator
        act.set_control_mode(self.torque_mode)
        gains = getattr(sys.modules.get(type(act).__module__), 'DEFAULT_CURRENT_GAINS', None)
        if gains is not None and self.torque_mode == CONTROL_MODES.CURRENT:
            act.set_current_gains(kp=gains.kp, ki=gains.ki, kd=gains.kd, ff=gains.ff)
        self.enabled = True
        self.write(0.0)

    def read(self) -> Reading:
        """Update the device and read the joint state (joint frame)."""
        act = self.actuator
        self._call(act.update)
        try:
            q = self.direction * act.output_position
            qd = self.direction * act.output_velocity
            case = act.case_temperature
        except ValueError as exc:  # a safety decorator rejected a reading
            raise SensorReadError(str(exc)) from exc
        try:
            winding = float(act.winding_temperature)
        except (TypeError, ValueError):
            winding = None
        return Reading(q, qd, float(act.motor_current), case, winding)

    def write(self, torque: float) -> None:
        """Joint torque, N*m; ignored unless enabled."""
        if self.enabled:  # (Moteus: the command goes out with the next update())
            self.actuator.set_output_torque(self.direction * torque)

    def disable(self) -> None:
        """Zero torque, then idle (motor off). Safe to call more than once."""
        if self.enabled:
            try:
                self.write(0.0)
                self._call(self.actuator.update)
            finally:
                self.enabled = False
                self.actuator.set_control_mode(CONTROL_MODES.IDLE)

    def close(self) -> None:
        """Disable, stop the device, undo the safety decorators. Safe to call twice."""
        try:
            self.disable()
        finally:
            if self.opened:
                self.opened = False
                try:
                    self._call(self.actuator.stop)
                finally:
                    self._safety.stop()
                    if self._loop is not None:
                        self._loop.close()
                        self._loop = None


# --- Interaction torque sources ----------------------------------------------------------
class LoadcellTorque:
    """An opensourceleg loadcell (``LoadcellBase``: Dephy amplifier, NB DAQ) as a torque.

    A lab's ``interaction_sensor`` factory can return ``LoadcellTorque(loadcell, 'mz')``
    (or a force axis times ``lever_arm``) for a cuff loadcell on the forearm link.
    """

    def __init__(self, loadcell: Any, axis: str = 'mz', lever_arm: float = 1.0) -> None:
        if axis not in ('fx', 'fy', 'fz', 'mx', 'my', 'mz'):
            raise ValueError(f'axis = {axis!r}: one of fx fy fz mx my mz')
        self._loadcell = loadcell
        self._axis = axis
        self._lever = lever_arm
        if hasattr(loadcell, 'start'):
            loadcell.start()

    def read(self) -> float:
        """Update the loadcell and return the torque, N*m."""
        self._loadcell.update()
        return float(getattr(self._loadcell, self._axis)) * self._lever


# --- Factories ---------------------------------------------------------------------------
def load_factory(spec: str) -> Callable:
    """Import ``'package.module:callable'``; a clear ValueError when it cannot be found."""
    module_name, _, attr = spec.partition(':')
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f'cannot load factory {spec!r}: {exc}') from exc


def make_actuator(p: BridgeParams, clock: Callable[[], float] = time.monotonic
                  ) -> ActuatorBase:
    """The actuator named by ``p.actuator`` (not started)."""
    freq = int(round(p.rate_hz))
    if p.actuator == 'offline':
        arm = ArmModel(
            inertia=p.offline_inertia, damping=p.offline_damping,
            gravity_sin=p.offline_gravity_sin, gravity_cos=p.offline_gravity_cos,
            cuff_stiffness=p.offline_cuff_stiffness, cuff_damping=p.offline_cuff_damping,
            human_center=p.home_angle, human_amplitude=p.offline_human_amplitude,
            human_period=p.offline_human_period, lower_stop=p.joint_limit_lower - 0.05,
            upper_stop=p.joint_limit_upper + 0.05,
            stop_stiffness=p.offline_hard_stop_stiffness)
        return SimulatedElbowActuator(arm, gear_ratio=p.gear_ratio,
                                      physics_dt=p.offline_physics_dt, clock=clock,
                                      ambient_temperature=p.thermal_ambient, frequency=freq)
    try:
        if p.actuator == 'dephy':
            from opensourceleg.actuators.dephy import DephyActuator
            return DephyActuator(tag='exo_elbow', port=p.actuator_port,
                                 gear_ratio=p.gear_ratio, frequency=freq,
                                 offline=p.actuator_offline)
        if p.actuator == 'tmotor':
            from opensourceleg.actuators.tmotor import TMotorServoActuator
            return TMotorServoActuator(tag='exo_elbow', motor_type=p.actuator_model,
                                       motor_id=p.actuator_id, gear_ratio=p.gear_ratio,
                                       frequency=freq, offline=p.actuator_offline)
        if p.actuator == 'moteus':
            from opensourceleg.actuators.moteus import MoteusActuator
            return MoteusActuator(tag='exo_elbow', servo_id=p.actuator_id,
                                  gear_ratio=p.gear_ratio, frequency=freq,
                                  offline=p.actuator_offline)
    except ImportError as exc:
        raise ValueError(
            f'actuator {p.actuator!r} needs its driver library ({exc.name or exc}); install '
            "it: dephy -> 'flexsea', tmotor -> 'python-can', moteus -> 'moteus'") from exc
    actuator = load_factory(p.actuator)(p)
    if not isinstance(actuator, ActuatorBase):
        raise ValueError(f'factory {p.actuator!r} returned {type(actuator).__name__}, not an '
                         'opensourceleg ActuatorBase')
    return actuator


def make_interaction_sensor(p: BridgeParams, actuator: ActuatorBase) -> Optional[Any]:
    """The interaction torque source named by ``p.interaction_sensor`` (None: none)."""
    if p.interaction_sensor == 'none':
        return None
    if p.interaction_sensor == 'offline':
        if not isinstance(actuator, SimulatedElbowActuator):
            raise ValueError("interaction_sensor 'offline' needs the offline actuator")
        return OfflineCuffSensor(actuator)
    sensor = load_factory(p.interaction_sensor)(p)
    if not callable(getattr(sensor, 'read', None)):
        raise ValueError(f'factory {p.interaction_sensor!r} returned an object without read()')
    return sensor


def configure_sdk_logging(log_dir: str = '') -> Path:
    """Send opensourceleg's log file to ``log_dir`` (default: the ROS log directory).

    The SDK's global logger otherwise creates a log file in the working directory on its
    first message. Console output of the SDK is limited to warnings.
    """
    from opensourceleg.logging.logger import LOGGER, Logger, LogLevel

    if not log_dir:
        log_dir = os.environ.get('ROS_LOG_DIR') or str(Path.home() / '.ros' / 'log')
    path = Path(log_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    Logger(log_path=str(path), file_name='opensourceleg_bridge',
           stream_level=LogLevel.WARNING, enable_csv_logging=False)
    LOGGER.set_file_name('opensourceleg_bridge')  # recompute the path with the new dir
    return path
