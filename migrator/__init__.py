"""aws-auth-migrate: move EKS clusters from the aws-auth ConfigMap to access entries, safely."""

__version__ = "0.1.0"
