"""The S3 run state wired: the aws/ adapter opened for a location, with the credentials and key it is given."""

from __future__ import annotations

from migrator.aws.s3state import open_s3_store
from migrator.ports import StateStore
from migrator.state.location import S3Location


def open_s3_state(
    location: S3Location, *, region: str, profile: str | None, kms_key: str | None, check: bool
) -> StateStore:
    """The store at `location`; `check` (a state's root) refuses another tool's prefix or a newer layout."""
    return open_s3_store(location, region=region, profile=profile, kms_key=kms_key, check=check)
