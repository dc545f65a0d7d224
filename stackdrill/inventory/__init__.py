"""What the operator says about the cloud: the inventory model and its schema, the deployment
profiles (data files), importers from other tools' inventories and from DevStack's own variables
(``stackdrill inventory devstack``), ``stackdrill discover``, and the secrets files the inventory
names. May import ``core`` only."""
