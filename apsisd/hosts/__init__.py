"""Hosts: something that can run a program as a systemd unit and tell what happened."""
