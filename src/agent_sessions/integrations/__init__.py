"""Drop-in stores for agent frameworks, built on the Python client. Each imports its framework
only for type checking: installing agent-sessions never pulls a framework in."""
