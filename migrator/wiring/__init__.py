"""The real edges put together: `connect` wires the aws/ and kube/ adapters into the gateways one cluster
needs (migrator.ports), and `probe` implements the IdentityProber port over both (an EKS token from aws/, a
SelfSubjectReview through kube/). The only package that joins the two adapters; the core never imports it."""
