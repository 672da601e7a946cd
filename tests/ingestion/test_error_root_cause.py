"""A failed load names the exception that says what happened, not the empty one dlt chained after it."""

from __future__ import annotations

from ingestion.pipeline import _root_cause
from ingestion.posthog.client import PostHogError


def _chained() -> BaseException:
    """The chain dlt gave when a resource raised in a generator: wrapper, ValueError, StopIteration."""
    try:
        try:
            try:
                next(iter(()))
            except StopIteration:
                raise ValueError("field names are not matching the table's field names") from None
        except ValueError as inner:
            inner.__context__ = StopIteration()
            raise RuntimeError("extraction of resource `events` failed") from inner
    except RuntimeError as outer:
        return outer


def test_empty_stop_iteration_at_the_bottom_is_skipped() -> None:
    root = _root_cause(_chained())
    assert isinstance(root, ValueError)
    assert "field names are not matching" in str(root)


def test_a_posthog_error_anywhere_in_the_chain_wins() -> None:
    error = RuntimeError("wrapper")
    error.__cause__ = PostHogError("HTTP 401 from /api/projects/1/query")
    assert _root_cause(error) is error.__cause__


def test_an_exception_without_cause_is_its_own_root() -> None:
    error = KeyError("uuid")
    assert _root_cause(error) is error
