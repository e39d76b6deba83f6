"""The local host: runs units on the systemd this process can reach over D-Bus."""
