"""The lab's cloud: OpenStack services from PyPI on the lab's hosts, each a systemd unit."""
