"""Views and a boot hook that misbehave on purpose, for the lifecycle tests."""
