"""``exo_prewear_check``: what a person must verify before wearing the device, run against it.

Runs on the armed real graph (``exo_arm`` first), with NOBODY wearing the device (the link
moves a little), in this order:

* **b, e-stop**: ``/exo/estop`` true -> bridge_node and controller_node stop, the actuator
  reads zero effort; the controller's service refuses to resume while the topic holds the
  stop; ``/exo/estop`` false (the release where it was pressed) -> both resume; the
  service ``/controller_node/estop`` true -> zero torque; false -> resumed.
* **c, rogue reference**: a second publisher of /exo/impedance_reference asks for 1.6 rad
  at 300 N*m/rad (``--rogue-rate-hz``, 1 kHz by default, for 1.5 s, policy_node still
  publishing); the torque at the actuator and the controller's command must stay within
  the assistance bound, 6 N*m. The rogue is stopped at once when the bound is exceeded.
* **a, command stream stops**: controller_node is deactivated and cleaned up (its command
  publisher goes), the check alone commands a small probe torque (0.5 N*m, 0.3 s) and then
  stops, as a killed controller stops: bridge_node sees only its commands end. The effort
  must read 0 within command_timeout + one loop tick (11 ms by default; bridge_node's own
  measure) and stay 0.

It prints a table, writes a JSON report (``--report``) and exits 0 when every item passed,
1 when one failed, 2 when it could not run (not armed, graph not found). After a pass the
controller is armed again (unless ``--leave-disarmed``); after a failure the device is left
disarmed (zero torque, motor idle): do not wear it. Verdicts: :mod:`exo_bringup.prewear`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time

from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import SetBool

from exo_bringup.arming import Arming
from exo_bringup.device import CONTROLLER, DeviceError, DeviceObserver
from exo_bringup.prewear import (
    build_report,
    estop_item,
    format_table,
    ItemResult,
    ROGUE_ANGLE,
    rogue_item,
    ROGUE_STIFFNESS,
    ROGUE_TORQUE_BOUND,
    timeout_item,
    write_report,
)
from exo_contract.qos import (
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    ESTOP_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
)
from exo_contract.topics import ESTOP_TOPIC
from exo_hardware.core import FLAG_ESTOP, ZEROING_FLAGS
from exo_impedance_controller.safety import SafetyFlags
from exo_interfaces.msg import ImpedanceReference

#: Joint states that must all read zero effort to call a stop a zero-torque stop.
ZERO_SAMPLES = 100
#: Joint states checked after the first zero of item a.
SAMPLES_AFTER_ZERO = 200
#: Probe torque of item a, N*m, and how long it is commanded, s.
PROBE_TORQUE = 0.5
PROBE_DURATION = 0.3
#: Seconds the arm is given to settle after the rogue reference stops.
SETTLE_S = 1.0


class NotArmedError(Exception):
    """The device is not armed: the check cannot run."""


class PrewearCheck:
    """The three items against the connected device.

    Args:
        node: the check's rclpy node.
        observer: the device observer on ``node``.
        arming: arming helper (lifecycle clients, the bridge's parameters).
        say: prints a progress line.
        margin: tolerance on the zeroing deadline of item a, s.
        rogue_rate_hz: publication rate of the rogue reference, Hz.
        rogue_duration: how long the rogue reference is published, s.

    """

    def __init__(self, node: Node, observer: DeviceObserver, arming: Arming, say=print,
                 margin: float = 0.0, rogue_rate_hz: float = 1000.0,
                 rogue_duration: float = 1.5) -> None:
        self.node = node
        self.obs = observer
        self.arming = arming
        self.say = say
        self.margin = margin
        self.rogue_rate_hz = rogue_rate_hz
        self.rogue_duration = rogue_duration
        self.timeout = arming.timeout
        self._estop_client = node.create_client(SetBool, f'/{CONTROLLER}/estop')

    # ------------------------------------------------------------ helpers
    def _fresh_diag(self, predicate, timeout: float | None = None) -> bool:
        """Wait for a bridge diagnostics message (after now) that satisfies ``predicate``."""
        count = self.obs.bridge_diag_count
        return self.obs.wait_for(
            lambda: self.obs.bridge_diag_count > count and predicate(self.obs.bridge_diag),
            self.timeout if timeout is None else timeout)

    def _zero_efforts(self, stamp: float) -> tuple[bool, str]:
        """The first ZERO_SAMPLES joint states stamped after ``stamp`` all read zero effort.

        Stamps, not receipt times: a loaded checker takes samples late, and a sample
        written before the stop must not count against it.
        """
        if not self.obs.wait_for(
                lambda: len(self.obs.joints_stamped_after(stamp)) >= ZERO_SAMPLES, self.timeout):
            return False, 'too few joint states'
        efforts = [s.effort for s in self.obs.joints_stamped_after(stamp)][:ZERO_SAMPLES]
        nonzero = [e for e in efforts if e != 0.0]
        if nonzero:
            return False, f'{len(nonzero)}/{len(efforts)} non-zero efforts, e.g. {nonzero[0]:.3f}'
        return True, f'{len(efforts)} joint states at 0 N*m'

    def _zero_run(self, stamp: float) -> tuple[bool, str]:
        """Joint states stamped after ``stamp`` reach zero effort and hold it ZERO_SAMPLES."""
        def held() -> bool:
            efforts = [s.effort for s in self.obs.joints_stamped_after(stamp)]
            tail = efforts[-ZERO_SAMPLES:]
            return len(tail) == ZERO_SAMPLES and not any(tail)
        if self.obs.wait_for(held, self.timeout):
            return True, f'{ZERO_SAMPLES} consecutive joint states at 0 N*m'
        efforts = [s.effort for s in self.obs.joints_stamped_after(stamp)][-ZERO_SAMPLES:]
        return False, (f'{sum(1 for e in efforts if e)} of the last {len(efforts)} efforts '
                       'non-zero')

    def _controller_flag(self, since: float, stopped: bool) -> bool:
        """Wait for a controller state after ``since`` with the ESTOP flag set (or clear)."""
        def seen() -> bool:
            states = self.obs.states_after(since)
            return bool(states) and bool(states[-1].flags & SafetyFlags.ESTOP) == stopped
        return self.obs.wait_for(seen, self.timeout)

    def _controller_zero(self, since: float) -> bool:
        """Wait for the controller's commanded torque to reach exactly 0 after ``since``."""
        def zero() -> bool:
            states = self.obs.states_after(since)
            return bool(states) and states[-1].commanded_torque == 0.0
        return self.obs.wait_for(zero, self.timeout)

    def _wall(self) -> float:
        """The check's clock (the ROS clock, as bridge_node's stamps), s."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _healthy(self) -> bool:
        return self._fresh_diag(lambda d: not int(d.get('flags', ZEROING_FLAGS)) & ZEROING_FLAGS)

    def _service(self, data: bool):
        return self.obs.call(self._estop_client, SetBool.Request(data=data), self.timeout,
                             f'{CONTROLLER}/estop {data}')

    # ------------------------------------------------------------ items
    def estop(self) -> ItemResult:
        """Item b."""
        self.say('b: e-stop')
        steps = []
        pub = self.node.create_publisher(Bool, ESTOP_TOPIC, ESTOP_QOS)
        try:
            t = time.monotonic()
            pub.publish(Bool(data=True))
            flagged = self._fresh_diag(lambda d: int(d.get('flags', 0)) & FLAG_ESTOP)
            # every tick stamped after the bridge reported the e-stop writes zero
            zero, seen = (self._zero_efforts(self.obs.bridge_diag_stamp) if flagged
                          else (False, ''))
            steps.append(('/exo/estop true -> zero effort at the actuator', flagged and zero,
                          seen if flagged else 'bridge_node did not report the e-stop'))
            stopped = self._controller_flag(t, True) and self._controller_zero(t)
            steps.append(('/exo/estop true -> controller stopped, commands 0 N*m', stopped,
                          'ESTOP flag and zero command' if stopped else
                          'no ESTOP flag or non-zero command'))
            response = self._service(False)
            steps.append(('service resume refused while /exo/estop holds true',
                          not response.success, response.message))
            t = time.monotonic()
            pub.publish(Bool(data=False))
            resumed = self._controller_flag(t, False) and self._healthy()
            steps.append(('/exo/estop false (release) -> both resume', resumed,
                          'controller running, bridge applies commands' if resumed else
                          f'still stopped: {self.obs.bridge_diag.get("reasons")}'))
            t = time.monotonic()
            called = self._wall()
            response = self._service(True)
            stopped = (response.success and self._controller_flag(t, True)
                       and self._controller_zero(t))
            # the controller's command ramps to zero: the actuator then reads 0 and holds
            zero, seen = self._zero_run(called) if stopped else (False, '')
            steps.append(('service stop -> zero effort at the actuator', stopped and zero,
                          seen if stopped else f'not stopped: {response.message}'))
            t = time.monotonic()
            response = self._service(False)
            resumed = (response.success and self._controller_flag(t, False)
                       and self._healthy())
            steps.append(('service resume -> resumes', resumed, response.message))
        finally:
            self.node.destroy_publisher(pub)
        return estop_item(steps)

    def rogue_reference(self) -> ItemResult:
        """Item c."""
        self.say(f'c: rogue reference at {self.rogue_rate_hz:.0f} Hz for '
                 f'{self.rogue_duration} s')
        if not self._healthy():
            return ItemResult('c', 'rogue reference', None,
                              detail='the device was not applying commands before the check')
        joint = str(self.arming.params.get('joint_name', 'exo_elbow_joint'))
        pub = self.node.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                         COMMAND_QOS)
        msg = ImpedanceReference(joint_names=[joint], reference_angle=[ROGUE_ANGLE],
                                 reference_velocity=[0.0], stiffness=[ROGUE_STIFFNESS])
        start = time.monotonic()
        period = 1.0 / self.rogue_rate_hz
        aborted = False
        sent = 0
        try:
            while time.monotonic() - start < self.rogue_duration:
                msg.header.stamp = self.node.get_clock().now().to_msg()
                pub.publish(msg)
                sent += 1
                latest = self.obs.joints[-1] if self.obs.joints else None
                if latest is not None and latest.received > start \
                        and abs(latest.effort) > ROGUE_TORQUE_BOUND:
                    aborted = True  # the bound is exceeded: stop pulling at once
                    break
                self.obs.spin(max(start + sent * period - time.monotonic(), 0.0))
        finally:
            self.node.destroy_publisher(pub)
        elapsed = time.monotonic() - start
        self.obs.spin(SETTLE_S)
        joints = self.obs.joints_after(start)
        states = self.obs.states_after(start)
        max_effort = max((abs(s.effort) for s in joints), default=None)
        max_command = max((abs(s.commanded_torque) for s in states), default=None)
        q_range = (min(s.q for s in joints), max(s.q for s in joints)) if joints else None
        return rogue_item(max_effort, max_command, aborted, sent / elapsed, elapsed, q_range)

    def command_timeout(self) -> ItemResult:
        """Item a (leaves controller_node unconfigured)."""
        self.say('a: command stream stops')
        params = self.arming.params
        deadline = float(params['command_timeout']) + 1.0 / float(params['rate_hz'])
        for name in ('deactivate', 'cleanup'):
            if not self.arming.controller.transition(name, timeout=30.0):
                return ItemResult('a', 'command stream stops', None,
                                  detail=f'controller_node {name} failed')
        if not self._fresh_diag(lambda d: d.get('command_publishers') == ''):
            return ItemResult('a', 'command stream stops', None,
                              detail="the controller's command publisher did not go away: "
                              f'{self.obs.bridge_diag.get("command_publishers")!r}')
        me = self.node.get_fully_qualified_name()
        pub = self.node.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
        try:
            if not self._fresh_diag(lambda d: d.get('command_publishers') == me):
                return ItemResult('a', 'command stream stops', None,
                                  detail='bridge_node did not see the probe publisher alone: '
                                  f'{self.obs.bridge_diag.get("command_publishers")!r}')
            msg = Float64MultiArray(data=[PROBE_TORQUE])
            start, start_stamp = time.monotonic(), self._wall()
            last_stamp = start_stamp
            while time.monotonic() - start < PROBE_DURATION:
                pub.publish(msg)
                last_stamp = self._wall()
                self.obs.spin(0.001)
            # Judged on bridge_node's stamps (the same clock on one machine), not on when
            # this process took the samples. A loaded machine may leave gaps in the probe
            # stream (a zero, then the torque again): what counts is the torque written
            # after the last command, against the deadline.
            limit = deadline + self.margin
            self.obs.wait_for(lambda: len(self.obs.joints_stamped_after(last_stamp + limit))
                              >= SAMPLES_AFTER_ZERO, self.timeout)
            probe_effort = max((abs(s.effort) for s in self.obs.joints_stamped_after(
                start_stamp) if s.stamp <= last_stamp), default=None)
            after = self.obs.joints_stamped_after(last_stamp)
            late = [s.effort for s in after
                    if s.effort != 0.0 and s.stamp > last_stamp + limit]
            nonzero = [i for i, s in enumerate(after) if s.effort != 0.0]
            first = next((s for s in after[(nonzero[-1] + 1 if nonzero else 0):]
                          if s.effort == 0.0), None)
            checked = sum(1 for s in after if s.stamp > last_stamp + limit)
            # bridge_node's own measure of its latest timeout (the stream's end): a
            # diagnostics message published from now on carries it.
            bridge_latency = None
            count = self.obs.bridge_diag_count
            if self.obs.wait_for(lambda: self.obs.bridge_diag_count > count, self.timeout):
                try:
                    bridge_latency = float(self.obs.bridge_diag['last_timeout_latency_ms']) / 1e3
                except (KeyError, ValueError):
                    bridge_latency = None
        finally:
            self.node.destroy_publisher(pub)
        observed = first.stamp - last_stamp if first is not None else None
        return timeout_item(probe_effort, bridge_latency, observed, late, checked, deadline,
                            self.margin)

    def run(self) -> list[ItemResult]:
        """Items b, c, a (the last one takes the controller down)."""
        states = self.arming.states()
        if states != ('active', 'active') or self.arming.check_armed():
            raise NotArmedError(f'the device is not armed (bridge_node {states[0]}, '
                                f'controller_node {states[1]}): run exo_arm first')
        items = []
        for key, item in (('b', self.estop), ('c', self.rogue_reference),
                          ('a', self.command_timeout)):
            try:
                items.append(item())
            except DeviceError as exc:
                items.append(ItemResult(key, item.__name__.replace('_', ' '), None,
                                        detail=str(exc)))
        return items


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_prewear_check``."""
    parser = argparse.ArgumentParser(
        prog='exo_prewear_check',
        description='Check the armed device before anyone wears it: command stream stops -> '
                    'zero effort, e-stop, rogue reference bound. NOBODY may wear it meanwhile.')
    parser.add_argument('--report', type=Path, default=Path('prewear_report.json'),
                        help='JSON report path (default prewear_report.json)')
    parser.add_argument('--timeout-margin-ms', type=float, default=0.0,
                        help='tolerance added to the zeroing deadline of item a, ms (0 on the '
                             'device; CI on a loaded machine sets one)')
    parser.add_argument('--rogue-rate-hz', type=float, default=1000.0,
                        help='rate of the rogue reference, Hz (default 1000)')
    parser.add_argument('--rogue-duration', type=float, default=1.5,
                        help='duration of the rogue reference, s (default 1.5)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds allowed for each wait (default 10)')
    parser.add_argument('--leave-disarmed', action='store_true',
                        help='do not arm the controller again after a pass')
    parser.add_argument('--yes', action='store_true',
                        help='do not ask for confirmation that nobody wears the device')
    opts = parser.parse_args(argv)
    if not 1.0 <= opts.rogue_rate_hz <= 5000.0 or not 0.0 < opts.rogue_duration <= 10.0:
        parser.error('--rogue-rate-hz in [1, 5000] and --rogue-duration in (0, 10] s')
    if not opts.yes:
        if not sys.stdin.isatty():
            parser.error('no terminal to confirm that nobody wears the device: pass --yes')
        print('The pre-wear check moves the link and stops the motor. NOBODY may wear the '
              'device.', flush=True)
        if input('Continue? [y/N] ').strip().lower() not in ('y', 'yes'):
            return 2
    import rclpy
    rclpy.init()
    node = rclpy.create_node('exo_prewear_check')
    observer = DeviceObserver(node)
    items: list[ItemResult] = []
    device: dict = {}
    final_state = 'unknown'
    code = 2
    try:
        arming = Arming(observer, timeout=opts.timeout)
        arming.find()
        device = dict(arming.params)
        check = PrewearCheck(node, observer, arming, margin=opts.timeout_margin_ms / 1e3,
                             rogue_rate_hz=opts.rogue_rate_hz,
                             rogue_duration=opts.rogue_duration)
        items = check.run()
        passed = all(i.passed for i in items)
        if passed and not opts.leave_disarmed:
            problems = arming.arm()
            final_state = 'armed' if not problems else 'disarmed: ' + '; '.join(problems)
            if problems:
                arming.disarm()
        else:
            problems = arming.disarm()
            final_state = 'disarmed' + ('; ' + '; '.join(problems) if problems else '')
        code = 0 if passed else 1
    except (DeviceError, NotArmedError) as exc:
        print(f'exo_prewear_check: {exc}', file=sys.stderr)
        final_state = f'not run: {exc}'
    finally:
        observer.close()
        node.destroy_node()
        rclpy.try_shutdown()
    if items:
        print(format_table(items))
    report = build_report(items, device, final_state)
    write_report(opts.report, report)
    verdict = {0: 'PASS: the device may be worn', 1: 'FAIL: DO NOT WEAR the device',
               2: 'NOT RUN'}[code]
    print(f'exo_prewear_check: {verdict} (device {final_state}); report {opts.report}')
    return code


if __name__ == '__main__':
    sys.exit(main())
