"""exo-vic's ground floor: what every package may import (no MuJoCo, no torch).

Modules: :mod:`tasks` (task vocabulary, reference shapes), :mod:`language` (the one text
resolver), :mod:`topics` and :mod:`qos` (topic names, QoS profiles), :mod:`runtime` (node
main loop), :mod:`checks` (range checks).
"""
