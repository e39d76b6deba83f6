"""apsisd.toml: its settings, their defaults and how the file is read.

Below both the daemon (which runs on it) and the CLI (which reads it to find the jobs folder, the tokens file and
the API's socket), so that neither imports the other.
"""
