"""Interaction data generation (paper section II, eq. 3 + eq. 4): ``exo_datagen``.

The simulated human (MyoSim elbow, :mod:`exo_sim.human`: delayed feedback, motor noise,
co-contraction, adaptation) performs each of the nine tasks while the exoskeleton assists
with ``tau_exo = alpha * tau_bio`` (eq. 3), for every assistance ratio ``alpha`` x body
mass x randomised repetition (onset, speed, amplitude, noise), plus a no-exo condition for
comparison; each episode is one :func:`exo_sim.episodes.simulate_assisted_episode` (after
practice; eq. 4 stiffness fitted at the 1 kHz simulation rate), decimated to
``sample_rate_hz``.

* :mod:`exo_sim.datagen.config` -- what to simulate: :class:`DatagenConfig`, the episode
  specs and their seeds;
* :mod:`exo_sim.datagen.generator` -- the worker pool, the step table and the manifest:
  :func:`generate`;
* :mod:`exo_sim.datagen.cli` -- the ``exo_datagen`` console script.

The on-disk format (version 2), its reader and the group-wise split are
:mod:`exo_contract.dataset`.

    exo_datagen --out data/exo_vic_v2            # full set (9 x 4 x 3 x 3 = 324 episodes)
    exo_datagen --out /tmp/exo_quick --quick     # tiny set for smoke tests
    exo_validate_data --data data/exo_vic_v2 --out data/exo_vic_v2/report
"""
