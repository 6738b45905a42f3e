"""MuJoCo MyoSim elbow + exoskeleton model, simulated human, task library, rollout and sim_node."""
