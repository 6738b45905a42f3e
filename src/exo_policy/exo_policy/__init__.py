"""Text + proprioception policy, oracle and ProMP reference sources, and policy_node."""
