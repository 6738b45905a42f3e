"""The parameter reference is what the code declares, and ``ros2 param describe`` shows it.

* docs/parameters.md is exactly what ``exo_experiments.parameter_reference`` writes.
* Each node is constructed in-process (real rclpy nodes over Fast DDS) and asked, through its
  ``describe_parameters`` service with an ``rcl_interfaces/DescribeParameters`` client as
  ``ros2 param describe`` does, for every parameter that ``list_parameters`` names: each has
  a non-empty description, each number a range, and the node's parameters are the ones the
  page lists for it (rclpy's own ``use_sim_time`` and ``start_type_description_service``
  aside: rclpy declares them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import ParameterType  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, ListParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from exo_contract.parameters import specs  # noqa: E402
from exo_experiments import parameter_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / 'docs' / 'parameters.md'
#: Parameters that rclpy declares on every node (documented by ROS, not by this suite).
RCLPY_OWN = {'use_sim_time', 'start_type_description_service'}


def test_committed_page_is_what_the_generator_writes():
    assert PAGE.exists(), f'docs/parameters.md is missing; run: {ref.WRITE_COMMAND}'
    assert PAGE.read_text() == ref.render(), (
        f'docs/parameters.md is out of date; run: {ref.WRITE_COMMAND}')


def test_check_mode_reports_a_stale_page(tmp_path, capsys):
    page = tmp_path / 'parameters.md'
    page.write_text(ref.render().replace('torque_limit', 'torque_lim'))
    assert ref.main(['--check', str(page)]) == 1
    assert ref.WRITE_COMMAND in capsys.readouterr().err
    assert ref.main(['--write', str(page)]) == 0
    assert ref.main(['--check', str(page)]) == 0


def _documented(node: str) -> set[str]:
    for spec in ref.NODES:
        if spec.node == node:
            classes, extra = spec.load()
            return {s.name for cls in classes for s in specs(cls)} | {s.name for s in extra}
    assert node in ref.WITHOUT_PARAMETERS, f'{node} is not on the parameter page'
    return set()


def _make(node: str, tmp_path: Path, context):
    if node == 'controller_node':
        from exo_impedance_controller.controller_node import ControllerNode
        return ControllerNode(context=context)
    if node == 'bridge_node':
        from exo_hardware.bridge_node import BridgeNode
        return BridgeNode(context=context, parameter_overrides=[
            Parameter('actuator', value='offline'), Parameter('autostart', value=False)])
    if node == 'sim_node':
        from exo_sim.sim_node import SimNode
        return SimNode(context=context)
    if node == 'policy_node':
        from exo_policy.policy_node import PolicyNode
        return PolicyNode(context=context, parameter_overrides=[
            Parameter('language_encoder', value='lexical')])
    if node == 'metabolic_node':
        from exo_metabolic.metabolic_node import MetabolicNode
        return MetabolicNode(context=context)
    if node == 'sim_analyser':
        from exo_metabolic.sim_analyser import SimAnalyserNode
        return SimAnalyserNode(context=context)
    if node == 'exo_recorder':
        from exo_experiments.recorder import RecorderNode
        return RecorderNode(context=context, parameter_overrides=[
            Parameter('output', value=str(tmp_path / 'rec'))])
    if node == 'exo_live_view':
        from exo_experiments.live_view import LiveViewNode
        return LiveViewNode(context=context, parameter_overrides=[Parameter('port', value=0)])
    if node == 'task_text_relay':
        from exo_contract.task_text_relay import TaskTextRelay
        return TaskTextRelay(context=context)
    raise AssertionError(f'no constructor for {node}')


def _call(executor, client, request, spin_until):
    spin_until(executor, client.service_is_ready, 20.0, f'{client.srv_name} ready')
    future = client.call_async(request)
    spin_until(executor, future.done, 20.0, f'{client.srv_name} answered')
    return future.result()


NODE_NAMES = [spec.node for spec in ref.NODES] + list(ref.WITHOUT_PARAMETERS)


@pytest.mark.parametrize('node_name', NODE_NAMES)
def test_describe_shows_description_and_range(node_name, ros_context, tmp_path, spin_until):
    node = _make(node_name, tmp_path, ros_context)
    peer = rclpy.create_node('param_describe_cli', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)
    try:
        lister = peer.create_client(ListParameters, f'/{node_name}/list_parameters')
        names = list(_call(executor, lister, ListParameters.Request(), spin_until).result.names)
        describer = peer.create_client(DescribeParameters, f'/{node_name}/describe_parameters')
        descriptors = _call(executor, describer, DescribeParameters.Request(names=names),
                            spin_until).descriptors
        ours = {d.name: d for d in descriptors if d.name not in RCLPY_OWN}
        assert set(ours) == _documented(node_name), (
            f'{node_name} declares {sorted(set(ours) - _documented(node_name))} not on the page '
            f'and the page lists {sorted(_documented(node_name) - set(ours))} it does not '
            f'declare; run: {ref.WRITE_COMMAND}')
        bad = []
        for name, d in sorted(ours.items()):
            if not d.description.strip():
                bad.append(f'{name}: no description')
            if d.type == ParameterType.PARAMETER_DOUBLE and not d.floating_point_range:
                bad.append(f'{name}: double without floating_point_range')
            if d.type == ParameterType.PARAMETER_INTEGER and not d.integer_range:
                bad.append(f'{name}: integer without integer_range')
            if d.type == ParameterType.PARAMETER_NOT_SET:
                bad.append(f'{name}: no type')
        assert not bad, f'{node_name}: ' + '; '.join(bad)
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
