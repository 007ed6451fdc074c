"""What keeps the kiosk service alive: the composition root (``app``), the ``supervisor``,
systemd notifications (``sdnotify``), journald logging (``journal``), the clock state
(``clock``) and the status board the screen reads (``status``)."""
