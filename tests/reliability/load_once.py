"""Run one PostHog load from the environment (a subprocess the crash/lock tests can kill or race)."""

from ingestion.pipeline import run_posthog_load
from ingestion.settings import PostHogSettings, WarehouseSettings

if __name__ == "__main__":
    summary = run_posthog_load(PostHogSettings.from_env(), WarehouseSettings.from_env())
    print(f"LOADED {summary.events_loaded}", flush=True)
