"""Loads the drill vocabulary for every feature under features/."""

pytest_plugins = ["stackdrill.builtin.steps.drill_steps", "stackdrill.builtin.steps.cloud_steps",
                  "stackdrill.builtin.steps.upgrade_steps", "stackdrill.builtin.steps.tenant_steps"]
