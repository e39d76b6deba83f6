"""Remote hosts: agentd on another machine, reached with the OpenSSH client."""
