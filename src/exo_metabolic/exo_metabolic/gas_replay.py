"""exo_replay_gas: publish an analyser's export (.xlsx, CSV, text) on /exo/gas_exchange.

    exo_replay_gas trial03.csv                         # VO2/VCO2 unit from the file
    exo_replay_gas trial03.csv --unit ml/s --speed 10  # 10x faster than recorded
    exo_replay_gas export.csv --time-column 't' --vo2-column 'VO2' --vco2-column 'VCO2'
    exo_replay_gas cosmed_omnia.xlsx --check           # read, validate, print JSON; no ROS

The file is read by :func:`exo_metabolic.analyser_files.read_analyser_file` (documented in
docs/lab_integration.md): the exports of COSMED, CORTEX, MGC Diagnostics Breeze, Parvo
Medics TrueOne and Vyntus (header below a metadata block, units row, per-kg columns, any
delimiter and decimal mark, hh:mm:ss / mm:ss / seconds / minutes / Excel day fractions),
exo-vic's own CSV, or a headerless time,VO2,VCO2 table. Units: ``--unit`` ('ml/s',
'ml/min', 'l/min'), else the units row, a unit in the VO2 header (``VO2 (mL/min)``,
``vo2_ml_per_s``), the vendor's documented unit, else mL/min. Garbage rows (empty cells,
text, NaN, negative, implausible, time not increasing) are skipped with a warning naming
their line (row in an .xlsx). A file whose medians do not look like a person breathing
(VO2, VCO2, RER, interval between rows) is refused with the option that overrides what was
assumed.

``--check`` reads and validates the file and prints one JSON object (``breaths``,
``duration_s``, ``vo2_ml_per_min_median``, ``vco2_ml_per_min_median``, ``rer_median``,
``unit``, ``columns``, ``skipped``, ``vendor``, ...) without starting ROS; exit status 2
with the message on stderr when the file is refused.

Each row becomes one ``exo_interfaces/GasExchange`` message (``breath_duration``: the
time since the previous row). The header stamp keeps the file's timing: the replay's start
time plus the row's time offset, so EC (eq. 16) does not depend on ``--speed``, which only
paces the publication (0: as fast as the subscribers take it). Before the first row the
metabolic node's ``~/restart`` service is called (``--restart``), so that its EC window
counts from the start of the file. Exit status: 0 when every
row was sent, 1 when the subscribers did not appear within ``--timeout``, 2 on a file that
cannot be read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

from exo_metabolic.analyser_files import (
    AnalyserFileError,
    INTERVAL_RANGE_S,
    read_analyser_file,
    TIME_UNITS,
)
from exo_metabolic.gas_exchange import UNITS


def restart_trial(node, executor, service: str, timeout: float = 5.0) -> bool:
    """Call the ``std_srvs/Trigger`` ``service`` (metabolic_node's restart); False if absent."""
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, service)
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            print(f'exo_replay_gas: no service {service}: the metabolic node keeps its own '
                  'trial start', file=sys.stderr)
            return False
        future = client.call_async(Trigger.Request())
        executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.done() and bool(future.result().success)
    finally:
        node.destroy_client(client)


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_replay_gas``."""
    parser = argparse.ArgumentParser(prog='exo_replay_gas',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('csv', type=Path,
                        help="the analyser's export (.xlsx, CSV/TSV/text)")
    parser.add_argument('--check', action='store_true',
                        help='read and validate the file, print one JSON object and exit '
                             '(no ROS)')
    parser.add_argument('--unit', choices=sorted(UNITS), default=None,
                        help='unit of the VO2/VCO2 columns (default: units row, header, '
                             "vendor's unit, else ml/min)")
    parser.add_argument('--time-column', default=None,
                        help="time column: header name, or '#N' (1-based column number)")
    parser.add_argument('--vo2-column', default=None,
                        help="absolute VO2 column: header name or '#N'")
    parser.add_argument('--vco2-column', default=None,
                        help="absolute VCO2 column: header name or '#N'")
    parser.add_argument('--time-unit', choices=sorted(TIME_UNITS), default=None,
                        help='unit of a numeric time column (default: units row, header; '
                             'numbers below 1 are Excel day fractions; else s)')
    parser.add_argument('--max-interval', type=float, default=INTERVAL_RANGE_S[1],
                        help='largest plausible median interval between rows, s (default '
                             '%(default)s; raise it for files of longer averages)')
    parser.add_argument('--speed', type=float, default=1.0,
                        help='replay speed factor (1 = as recorded, 0 = no pacing)')
    parser.add_argument('--source', default=None,
                        help="GasExchange.source (default 'replay:<file name>')")
    parser.add_argument('--wait-subscribers', type=int, default=1,
                        help='subscribers of /exo/gas_exchange to wait for before the first '
                             'row (default 1)')
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='seconds to wait for them (default 30)')
    parser.add_argument('--restart', default='/metabolic_node/restart',
                        help='Trigger service called before the first row so that the EC '
                             "window counts from it ('' to skip; default %(default)s)")
    opts = parser.parse_args(argv)
    if opts.speed < 0:
        parser.error(f'--speed must be >= 0, got {opts.speed}')
    if not opts.max_interval > INTERVAL_RANGE_S[0]:
        parser.error(f'--max-interval must be > {INTERVAL_RANGE_S[0]}, got {opts.max_interval}')
    try:
        read = read_analyser_file(opts.csv, unit=opts.unit, time_column=opts.time_column,
                                  vo2_column=opts.vo2_column, vco2_column=opts.vco2_column,
                                  time_unit_override=opts.time_unit,
                                  max_interval_s=opts.max_interval)
    except (OSError, AnalyserFileError) as err:
        print(f'exo_replay_gas: refused {opts.csv}: {err}', file=sys.stderr)
        return 2
    table = read.table
    for line, reason in table.skipped:
        print(f'exo_replay_gas: warning: {opts.csv}:{line}: skipped ({reason})',
              file=sys.stderr)
    for note in read.warnings:
        print(f'exo_replay_gas: warning: {note}', file=sys.stderr)
    if opts.check:
        print(json.dumps(read.summary()), flush=True)
        return 0
    breaths = table.breaths()
    print(f'exo_replay_gas: {len(breaths)} rows of {opts.csv} ({read.vendor}, columns '
          f'{table.columns}, {table.unit}), {len(table.skipped)} skipped', flush=True)
    source = opts.source or f'replay:{opts.csv.name}'
    return _replay(opts, breaths, source)


def _replay(opts: argparse.Namespace, breaths: list, source: str) -> int:
    """Publish ``breaths`` (ROS is imported here only: ``--check`` runs without it)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.time import Time
    from tqdm import tqdm

    from exo_contract.qos import STATE_QOS
    from exo_contract.topics import GAS_EXCHANGE_TOPIC
    from exo_interfaces.msg import GasExchange

    rclpy.init(args=[])
    node = rclpy.create_node('exo_replay_gas')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    publisher = node.create_publisher(GasExchange, GAS_EXCHANGE_TOPIC, STATE_QOS)
    try:
        deadline = time.monotonic() + opts.timeout
        while publisher.get_subscription_count() < opts.wait_subscribers:
            if time.monotonic() > deadline:
                print(f'exo_replay_gas: {publisher.get_subscription_count()} subscriber(s) of '
                      f'{GAS_EXCHANGE_TOPIC} after {opts.timeout} s, wanted '
                      f'{opts.wait_subscribers}', file=sys.stderr)
                return 1
            executor.spin_once(timeout_sec=0.05)
        if not breaths:
            return 0
        if opts.restart:
            restart_trial(node, executor, opts.restart)
        start_ns = node.get_clock().now().nanoseconds
        start_wall = time.monotonic()
        t0 = breaths[0].t
        for breath in tqdm(breaths, desc='[replay] breaths', unit='breath'):
            if opts.speed > 0:
                due = start_wall + (breath.t - t0) / opts.speed
                while time.monotonic() < due:
                    executor.spin_once(timeout_sec=min(0.05, max(due - time.monotonic(), 0)))
            msg = GasExchange()
            msg.header.stamp = Time(
                nanoseconds=start_ns + int(round((breath.t - t0) * 1e9))).to_msg()
            msg.vo2_ml_per_s = breath.vo2
            msg.vco2_ml_per_s = breath.vco2
            msg.breath_duration = breath.duration
            msg.source = source
            publisher.publish(msg)
            if opts.speed == 0:
                executor.spin_once(timeout_sec=0.002)  # pace: the queue holds 50
        # Let the last messages leave before the publisher goes away.
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
