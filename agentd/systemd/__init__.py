"""The D-Bus and journal layer over systemd, shared by every host implementation."""
