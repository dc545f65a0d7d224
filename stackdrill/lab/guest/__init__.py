"""The lab's canary guest: a minimal Linux (Debian's or Ubuntu's kernel, an initramfs of
busybox-static and the virtio modules the kernel does not build in) built offline from the
packages ``fetch-guest-packages`` downloads (``stackdrill lab fetch-guest``), whose ``/init``
writes the heartbeat defined in :mod:`stackdrill.cloud.heartbeat`; and a plain-qemu runner that
boots it outside any cloud. May import ``core`` and ``cloud``, and the lab's own modules."""
