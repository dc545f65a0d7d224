"""The foundation every other package stands on: the one exception root (``errors``), typed
parameters, polling with a deadline (``waiting``), the evidence interface and the verified
state's data model. Nothing here imports another stackdrill package."""
