"""The foundation every other package stands on: the one exception root (``errors``), typed
parameters, polling with a deadline (``waiting``), the evidence interface, the verified
state's data model, and whether a directory takes a write before a run starts (``disk_probe``).
Nothing here imports another stackdrill package."""
