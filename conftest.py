"""The checkout's features need nothing here: the stackdrill pytest plugin, which pytest loads
through its ``pytest11`` entry point, registers the drill vocabulary (the built-in step modules,
``stackdrill.builtin.steps.*``) and the drills' markers itself, in every run."""
