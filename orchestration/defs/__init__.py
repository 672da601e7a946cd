"""Small Definitions modules, one per integration, merged by orchestration/definitions.py."""
