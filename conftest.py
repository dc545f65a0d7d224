"""Loads the drill vocabulary for every feature under features/."""

pytest_plugins = ["steps.drill_steps", "steps.cloud_steps", "steps.upgrade_steps"]
