"""Console script ``exo_datagen``: generate the exo-vic interaction dataset.

    exo_datagen --out data/exo_vic_v2            # full set (9 x 4 x 3 x 3 = 324 episodes)
    exo_datagen --out /tmp/exo_quick --quick     # tiny set for smoke tests

What is simulated: :mod:`exo_sim.datagen.config`; how: :mod:`exo_sim.datagen.generator`;
the files written: :mod:`exo_contract.dataset`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
import time

from exo_contract.dataset import MANIFEST_FILE, STEPS_FILE
from exo_sim.datagen.config import DatagenConfig, episode_specs, QUICK_CONFIG
from exo_sim.datagen.generator import generate

DEFAULT_OUT = Path('data/exo_vic_v2')


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(',') if v.strip())


def _strings(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(',') if v.strip())


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_datagen``."""
    parser = argparse.ArgumentParser(
        prog='exo_datagen',
        description='Interaction data generation (paper section II, eq. 3 + eq. 4).',
        epilog='Lists are comma-separated, e.g. --alphas 0,0.5,1 --tasks drink,wave.')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT,
                        help='output directory (default: %(default)s)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny config: ok_gesture + lift_heavy, alphas 0,1, 70 kg, 1 rep')
    parser.add_argument('--repetitions', type=int, help='repetitions per combination')
    parser.add_argument('--workers', type=int, help='worker processes (default: cpu count)')
    parser.add_argument('--ray-address', default=None, metavar='ADDRESS',
                        help="simulate on a Ray cluster ('auto', 'ray://host:10001' or "
                             "'local'; docs/cluster.md); default: --workers local processes")
    parser.add_argument('--tasks', type=_strings, help='task ids (default: all nine)')
    parser.add_argument('--masses', type=_floats, help='body masses, kg')
    parser.add_argument('--alphas', type=_floats, help='assistance ratios of eq. 3')
    parser.add_argument('--onset', type=_floats,
                        help='movement onset range after the instruction, s: min,max')
    parser.add_argument('--speed-spread', type=float, help='relative speed spread')
    parser.add_argument('--amplitude-spread', type=float, help='relative amplitude spread')
    parser.add_argument('--practice', type=int, help='practice repetitions per episode')
    parser.add_argument('--seed', type=int, help='base seed')
    parser.add_argument('--no-no-exo', action='store_true', help='skip the no-exo condition')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    opts = parser.parse_args(argv)
    base = QUICK_CONFIG if opts.quick else DatagenConfig()
    overrides = {name: value for name, value in (
        ('repetitions', opts.repetitions), ('workers', opts.workers), ('tasks', opts.tasks),
        ('masses', opts.masses), ('alphas', opts.alphas), ('onset_range_s', opts.onset),
        ('speed_spread', opts.speed_spread), ('amplitude_spread', opts.amplitude_spread),
        ('practice_repetitions', opts.practice), ('base_seed', opts.seed))
        if value is not None}
    if opts.no_no_exo:
        overrides['include_no_exo'] = False
    try:
        config = replace(base, **overrides)
    except ValueError as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    out = generate(config, opts.out, progress=not opts.no_progress,
                   ray_address=opts.ray_address)
    wall = time.perf_counter() - start
    n_ep = len(episode_specs(config))
    size = (out / STEPS_FILE).stat().st_size
    print(f'wrote {out / STEPS_FILE} ({n_ep} episodes, {size / 1e6:.1f} MB) and '
          f'{out / MANIFEST_FILE} on '
          f'{opts.ray_address and "Ray " + opts.ray_address or f"{config.workers} workers"} '
          f'in {wall:.1f} s wall time')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
