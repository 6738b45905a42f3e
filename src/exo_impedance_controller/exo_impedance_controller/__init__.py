"""Stability-bounded variable impedance controller (eq. 8, eq. 10-13) and its lifecycle node."""
