"""Proof that a migration kept every identity: verify (pure comparison), and what probes observed."""
