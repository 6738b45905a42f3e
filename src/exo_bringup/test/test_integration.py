"""Integration: sim_node, policy_node and controller_node as separate processes over Fast DDS.

Real rclpy processes, real MyoSim model, real controller: the test sends task texts on
/task_text like a user would and checks, from the outside, that the exoskeleton tracks the
task with zero safety violations and that text naming no task yields a compliant
reference. Deadlines are generous (a loaded 2-core machine); nothing asserts on timing.
The graph runs in lockstep (``lockstep:=true``: simulated time from sim_node, which steps
only once the controller has answered), and the test waits in simulated time, so a loaded
machine runs it slower but with the same numbers. It runs on a private ROS domain, on this
machine only, so that no other graph can interfere.
"""

import math
import os
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from exo_bringup.launcher import GraphProcesses  # noqa: E402
from exo_bringup.readiness import missing_text_readers  # noqa: E402
from exo_bringup.send_task import publish_task_text  # noqa: E402
from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    HUMAN_STATE_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    STATE_QOS,
)
from exo_contract.tasks import TASKS_BY_ID  # noqa: E402
from exo_impedance_controller.params import ControllerParams  # noqa: E402
from exo_interfaces.msg import ControllerState, HumanState, ImpedanceReference  # noqa: E402

pytestmark = pytest.mark.integration

READY_DEADLINE_S = 180.0
STALL_DEADLINE_S = 120.0  # wall seconds the simulated time may stand still (a hang)


def _stamp(t) -> float:
    return t.sec + t.nanosec * 1e-9


class _Observer:
    def __init__(self, context):
        self.node = rclpy.create_node('integration_observer', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.states: list[ControllerState] = []
        self.humans: list[HumanState] = []
        self.refs: list[ImpedanceReference] = []
        self.node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC,
                                      self.states.append, STATE_QOS)
        self.node.create_subscription(HumanState, HUMAN_STATE_TOPIC, self._on_human,
                                      STATE_QOS)
        self.sim_time = 0.0
        self.node.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                      self.refs.append, COMMAND_QOS)

    def spin(self, seconds: float, graph: GraphProcesses) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)
            assert not graph.dead(), f'node exited: {graph.dead()}'

    def _on_human(self, msg: HumanState) -> None:
        self.humans.append(msg)
        self.sim_time = max(self.sim_time, _stamp(msg.header.stamp))

    def spin_sim(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin until the simulated time (human-state stamps) advanced by ``seconds``."""
        end = self.sim_time + seconds
        last, last_wall = self.sim_time, time.monotonic()
        while self.sim_time < end:
            self.spin(0.05, graph)
            if self.sim_time > last:
                last, last_wall = self.sim_time, time.monotonic()
            assert time.monotonic() - last_wall < STALL_DEADLINE_S, \
                f'simulated time stood still at {last:.3f} s'

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture(params=['learned', 'oracle'])
def graph_and_observer(request, tmp_path, ros_context):
    graph = GraphProcesses('sim', {'policy_mode': request.param, 'lockstep': 'true'},
                           log_dir=tmp_path / 'logs')
    graph.mode = request.param
    observer = _Observer(ros_context)
    graph.start()
    try:
        deadline = time.monotonic() + READY_DEADLINE_S
        while len(observer.states) < 200 or missing_text_readers(observer.node,
                                                                 graph.processes):
            assert time.monotonic() < deadline, 'graph did not come up: ' + _logs(tmp_path)
            observer.spin(0.2, graph)
        yield graph, observer
    finally:
        codes = graph.stop()
        observer.close()
    assert all(code in (0, -2) for code in codes.values()), (codes, _logs(tmp_path))


def _logs(tmp_path) -> str:
    return '\n'.join(f'--- {p.name}\n{p.read_text()[-2000:]}'
                     for p in sorted((tmp_path / 'logs').glob('*.log')))


def _check_safety(states: list[ControllerState], limit: float) -> None:
    """No non-finite or over-limit command; the stiffness bound between received ticks.

    The healthy graph never has invalid sensor input (non-finite or implausible: no input
    FAULT), a second publisher on a sensor topic, or an e-stop.
    """
    assert states
    prev = None
    for s in states:
        tau = s.commanded_torque[0]
        assert math.isfinite(tau) and abs(tau) <= limit + 1e-9
        assert not s.safety_flags & (ControllerState.FLAG_NONFINITE_INPUT
                                     | ControllerState.FLAG_INPUT_FAULT
                                     | ControllerState.FLAG_MULTIPLE_PUBLISHERS
                                     | ControllerState.FLAG_ESTOP), s.safety_flags
        k = s.stiffness_bounded[0]
        assert math.isfinite(k) and k > 0
        if prev is not None and s.tick_period > 0 and prev.tick_period >= 0:
            # Ticks may be missing from what we received; the bound over the gap is the
            # product of the per-tick bounds, at most exp(2 D/M * elapsed stamp time).
            elapsed = max(_stamp(s.joint_state_stamp) - _stamp(prev.joint_state_stamp), 0.0)
            bound = prev.stiffness_bounded[0] * math.exp(
                2.0 * elapsed * s.damping[0] / s.inertia[0])
            assert k <= bound * (1 + 1e-9) + 1e-12, (k, bound)
        prev = s


def test_graph_tracks_task_and_refuses_unknown_text(graph_and_observer):
    graph, obs = graph_and_observer
    task = TASKS_BY_ID['ok_gesture']
    obs.states.clear()
    obs.humans.clear()
    publish_task_text(obs.node, task.text)
    obs.spin_sim(task.duration_s + 1.0, graph)

    limit = ControllerParams().torque_limit
    _check_safety(obs.states, limit)
    active = [h for h in obs.humans if h.task_id == task.task_id and 0.0 <= h.task_phase <= 1.0]
    assert len(active) > 50, 'the simulated human did not perform the task'
    # Exo angle (controller state) against the human's ground-truth reference, matched by
    # receipt order within the active window.
    t_h = np.array([_stamp(h.header.stamp) for h in active])
    q_ref = np.array([h.reference_angle for h in active])
    t_c = np.array([_stamp(s.joint_state_stamp) for s in obs.states])
    q_exo = np.array([s.position[0] for s in obs.states])
    inside = (t_c >= t_h[0]) & (t_c <= t_h[-1])
    err = q_exo[inside] - np.interp(t_c[inside], t_h, q_ref)
    rmse = float(np.sqrt(np.mean(err**2)))
    assert np.ptp(q_ref) > 0.5  # the task moved the arm
    assert rmse < 0.1, f'exo tracking RMSE {rmse:.3f} rad'
    refs = [r for r in obs.refs if r.task_id == task.task_id]
    assert refs and all(r.source == graph.mode for r in refs)

    # Text that names no task: compliant fallback, the human stays at rest.
    obs.refs.clear()
    obs.states.clear()
    publish_task_text(obs.node, 'please juggle three flaming torches')
    obs.spin_sim(1.5, graph)
    late = obs.refs[len(obs.refs) // 2:]
    assert late and all(r.source == ImpedanceReference.SOURCE_FALLBACK for r in late)
    assert all(r.task_id == '' and r.confidence == 0.0 for r in late)
    assert all(r.stiffness[0] <= 2.0 for r in late)
    _check_safety(obs.states, limit)
    assert obs.states[-1].stiffness_bounded[0] <= ControllerParams().stiffness_compliant + 1e-9
    assert os.environ['ROS_DOMAIN_ID']
