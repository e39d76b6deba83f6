"""`python -m agentd`: the agentd command."""
import sys

from agentd.cli import main

sys.exit(main())
