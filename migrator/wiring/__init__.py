"""The real edges put together: `connect` wires the aws/ and kube/ adapters into the gateways one cluster
needs (migrator.ports), `probe` implements the IdentityProber port over both (an EKS token from aws/, a
SelfSubjectReview through kube/), and `state` opens the S3 run state of aws/. The only package that joins
the two adapters; the core never imports it."""
