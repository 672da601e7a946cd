"""Bundled PostHog-compatible demo API: seeded data store, HTTP server and fault injection."""

from ingestion.demo_api.faults import Fault, FaultPlan
from ingestion.demo_api.server import DemoPostHog
from ingestion.demo_api.store import DemoStore

__all__ = ["DemoPostHog", "DemoStore", "Fault", "FaultPlan"]
