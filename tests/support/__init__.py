"""Builders shared by the test packages: ARNs, the no-wait poll policy, scenario YAML."""
