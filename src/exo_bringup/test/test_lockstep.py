"""Lockstep simulation of the whole graph: simulated time from sim_node, every node on it.

The launcher puts sim_node into ``clock_mode: lockstep`` and every other node on
``use_sim_time`` (``lockstep:=true``). The graph test runs the real sim_node, policy_node and
controller_node in one process on a private ROS domain and checks, by counting (no timing
thresholds; the only wall-clock numbers are generous deadlines), that the controller answers
every state so that the simulation never waits for its timeout, that the controller stamps
and times its ticks on the simulated clock, and that policy_node's timer runs on it too (one
reference per 1/rate_hz of simulated time, each waited for by sim_node).
"""


import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from exo_bringup.graph import lockstep_overrides, SIM_ARGUMENTS, SIM_GRAPH  # noqa: E402
from exo_bringup.launcher import GraphProcesses, node_command  # noqa: E402
from exo_contract.qos import (  # noqa: E402
    CONTROLLER_STATE_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
)
from exo_impedance_controller.controller_node import ControllerNode  # noqa: E402
from exo_interfaces.msg import ControllerState, ImpedanceReference  # noqa: E402
from exo_policy.policy_node import PolicyNode  # noqa: E402
from exo_sim.sim_node import SimNode  # noqa: E402

DEADLINE_S = 120.0  # generous: the machine is shared; only a hang makes a test fail
SIM_SECONDS = 1.0
ALL = QoSProfile(depth=5000, reliability=ReliabilityPolicy.RELIABLE)


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def test_lockstep_argument_sets_the_clock_of_every_node():
    lockstep = GraphProcesses('sim', {'lockstep': 'true'})
    assert lockstep.lockstep
    commands = dict(lockstep.commands)
    assert 'clock_mode:=lockstep' in commands['sim_node']
    for name in ('policy_node', 'controller_node', 'task_text_relay'):
        assert 'use_sim_time:=true' in commands[name]
    # Nodes on simulated time use the SingleThreadedExecutor (graph.SIM_TIME_EXECUTOR).
    single = {'EXO_VIC_EXECUTOR': 'single'}
    assert lockstep._node_env == {'sim_node': {}, 'policy_node': single,
                                  'controller_node': single, 'task_text_relay': single}
    assert not any(GraphProcesses('sim')._node_env.values())
    realtime = dict(GraphProcesses('sim').commands)
    assert 'clock_mode:=realtime' in realtime['sim_node']
    assert 'use_sim_time:=false' in realtime['controller_node']
    with pytest.raises(ValueError, match="'maybe'"):
        GraphProcesses('sim', {'lockstep': 'maybe'})
    # Only sim_node makes the clock.
    assert [s.name for s in SIM_GRAPH if 'clock_mode' in lockstep_overrides(s, True)] == \
        ['sim_node']
    assert node_command(SIM_GRAPH[0], SIM_ARGUMENTS, {'lockstep': 'TRUE'})[-1] == \
        'clock_mode:=lockstep'


def test_graph_runs_on_simulated_time(ros_context, spin_until):
    context = ros_context
    executor = SingleThreadedExecutor(context=context)
    nodes = []
    try:
        sim_time = [Parameter('use_sim_time', value=True)]
        sim = SimNode(context=context, parameter_overrides=[
            Parameter('clock_mode', value='lockstep'), Parameter('lockstep_timeout', value=5.0),
            Parameter('language_encoder', value='lexical')])
        controller = ControllerNode(context=context, parameter_overrides=sim_time)
        policy = PolicyNode(context=context, parameter_overrides=sim_time + [
            Parameter('mode', value='oracle'), Parameter('language_encoder', value='lexical')])
        probe = rclpy.create_node('lockstep_probe', context=context)
        nodes = [sim, controller, policy, probe]
        for node in nodes:
            executor.add_node(node)
        states: list[ControllerState] = []
        refs: list[ImpedanceReference] = []
        probe.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, states.append, ALL)
        probe.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, refs.append,
                                  ALL)
        assert controller.trigger_configure() is not None
        controller.trigger_activate()

        spin_until(executor, lambda: sim._steps * sim._dt >= SIM_SECONDS + 0.2, DEADLINE_S,
                   f'{SIM_SECONDS + 0.2} s of simulated time')
        # The controller answered every state: only the first step waited for the timeout;
        # the policy's references, waited for at their times, all came.
        assert sim.lockstep_timeouts == 1
        assert sim._steps == sim.commands_received + 1
        assert sim.reference_timeouts == 0
        # Its ticks carry simulated time: the state's stamp, and its own clock at publication
        # (the /clock of that state, delivered before the state itself).
        window = [s for s in states if 0.1e9 <= _ns(s.joint_state_stamp) <= 1.1e9]
        assert len(window) > 900
        assert all(_ns(s.header.stamp) == _ns(s.joint_state_stamp) for s in window)
        assert all(abs(s.tick_period - 0.001) < 1e-9 for s in window)
        # policy_node's timer runs on the simulated clock: rate_hz per simulated second.
        stamps = sorted(_ns(r.header.stamp) for r in refs)
        in_window = [t for t in stamps if 0.1e9 <= t < 1.1e9]
        rate = policy.params.rate_hz
        assert rate * SIM_SECONDS - 2 <= len(in_window) <= rate * SIM_SECONDS + 1
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
