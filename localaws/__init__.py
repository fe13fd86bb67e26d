"""localaws: an embedded local AWS for sales-stream (moto plus the data plane moto lacks)."""

from localaws.server import LocalAWS

__all__ = ["LocalAWS"]
