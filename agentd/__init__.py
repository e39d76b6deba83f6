"""agentd: what runs programs as systemd units on a host, for apsisd on its own host and agentd on remote ones.

It imports nothing of apsisd (tests/test_imports.py): apsisd builds on it.
"""
