"""The pricing experiment (spec 1.5): four pricing strategies as the arms of a bandit, routed
epsilon-greedy per event, rewarded by the event's net primary revenue."""
