"""Server-fault tests: private database servers killed and restarted under load."""
