"""apsis: a job scheduler that runs every run as a transient systemd unit."""
