"""The embedded lab: a small OpenStack-shaped cloud of systemd-nspawn hosts on one machine."""
