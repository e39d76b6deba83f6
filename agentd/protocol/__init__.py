"""agentd's protocol on stdio: frames, the wire form of the Host's types, and the messages."""
