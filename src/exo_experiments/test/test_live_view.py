"""exo_live_view (Foxglove WebSocket bridge) and the shipped Foxglove layout.

The live view runs as its own process on a private ROS domain; this test publishes on the
graph's topics, connects a WebSocket client (``websockets``, Foxglove's protocol), subscribes
to a channel and decodes what arrives.
"""

import asyncio
import json
import os
from pathlib import Path
import re
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import deserialize_message

from exo_contract.qos import STATE_QOS
from exo_contract.topics import ENERGY_EXPENDITURE_TOPIC, METABOLIC_POWER_TOPIC, TOPIC_TYPES
from exo_experiments.live_view import HOST
from exo_experiments.recorder import import_message_type
from exo_interfaces.msg import MetabolicPower

websockets = pytest.importorskip('websockets')
pytest.importorskip('foxglove')

LAYOUT = Path(__file__).resolve().parents[1] / 'config' / 'foxglove_layout.json'
DEADLINE_S = 60.0  # generous: the machine is shared; only a hang makes a test fail
SUBPROTOCOLS = ['foxglove.sdk.v1', 'foxglove.websocket.v1']


def _layout_paths():
    layout = json.loads(LAYOUT.read_text())
    for panel, config in layout['configById'].items():
        if panel.startswith('Plot!'):
            yield from (p['value'] for p in config['paths'])
        elif 'topicPath' in config:
            yield config['topicPath']


def test_layout_plots_fields_that_exist():
    layout = json.loads(LAYOUT.read_text())
    titles = ' | '.join(c.get('foxglovePanelTitle', '') for c in layout['configById'].values())
    for needed in ('angle', 'Stiffness raw vs bounded', 'Torque', 'Metabolic'):
        assert needed in titles
    # Every panel of the mosaic is configured and vice versa.
    panels = set(re.findall(r'"([A-Za-z]+![a-z]+)"', json.dumps(layout['layout'])))
    assert panels == set(layout['configById'])
    paths = list(_layout_paths())
    assert ENERGY_EXPENDITURE_TOPIC + '.power_per_kg' in paths
    for path in paths:
        topic = next((t for t in sorted(TOPIC_TYPES, key=len, reverse=True)
                      if path == t or path.startswith(t + '.')), None)
        assert topic is not None, f'{path}: not an exo-vic topic'
        value = import_message_type(TOPIC_TYPES[topic])()
        for part in filter(None, path[len(topic):].split('.')):
            name, _, index = part.partition('[')
            assert hasattr(value, name), f'{path}: no field {name!r}'
            value = getattr(value, name)
            if index:
                assert isinstance(value, (list, tuple)) or hasattr(value, '__len__'), path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _other_address():
    """A non-loopback address of this machine, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(('10.255.255.255', 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith('127.') else address


async def _receive_one(port: int, topic: str, deadline: float):
    """Connect, subscribe to ``topic``'s channel, return (channel, first message payload)."""
    while True:
        try:
            ws = await websockets.connect(f'ws://{HOST}:{port}', subprotocols=SUBPROTOCOLS,
                                          open_timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline, 'the live view never accepted a connection'
            await asyncio.sleep(0.3)
    async with ws:
        channel = None
        while channel is None:
            frame = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            if isinstance(frame, str):
                message = json.loads(frame)
                if message.get('op') == 'advertise':
                    channel = next((c for c in message['channels'] if c['topic'] == topic),
                                   None)
        await ws.send(json.dumps({'op': 'subscribe',
                                  'subscriptions': [{'id': 1, 'channelId': channel['id']}]}))
        while True:
            frame = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            if isinstance(frame, bytes) and frame[0] == 1:
                opcode, subscription, _log_time = struct.unpack('<BIQ', frame[:13])
                assert subscription == 1
                return channel, frame[13:]


def test_live_view_forwards_topics_to_a_websocket_client(tmp_path, ros_context):
    port = _free_port()
    env = dict(os.environ)  # ROS_DOMAIN_ID: the test's private domain
    log = open(tmp_path / 'live_view.log', 'w')  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'exo_experiments.live_view', '--ros-args', '-p', f'port:={port}',
         '-p', 'max_rate_hz:=20.0'], env=env, stdout=log, stderr=subprocess.STDOUT)
    context = ros_context
    node = rclpy.create_node('live_view_test_source', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    pub = node.create_publisher(MetabolicPower, METABOLIC_POWER_TOPIC, STATE_QOS)
    stop = threading.Event()

    def publish():
        while not stop.is_set():
            pub.publish(MetabolicPower(power=42.5, power_per_kg=0.6, source='test'))
            executor.spin_once(timeout_sec=0.02)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        channel, payload = asyncio.run(
            _receive_one(port, METABOLIC_POWER_TOPIC, time.monotonic() + DEADLINE_S))
        address = _other_address()
        if address is not None:  # bound to 127.0.0.1 only
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()
    finally:
        stop.set()
        thread.join()
        executor.shutdown()
        node.destroy_node()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert channel['encoding'] == 'cdr'
    assert channel['schemaName'] == 'exo_interfaces/msg/MetabolicPower'
    assert channel['schemaEncoding'] == 'ros2msg' and 'float64 power_per_kg' in channel['schema']
    msg = deserialize_message(payload, MetabolicPower)
    assert msg.power == 42.5 and msg.source == 'test'
    assert proc.returncode == 0, (tmp_path / 'live_view.log').read_text()
