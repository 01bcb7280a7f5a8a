"""artifactsvc: CI job artifacts in S3-compatible storage, served through GitLab's Jobs API."""

__version__ = "0.1.0"
