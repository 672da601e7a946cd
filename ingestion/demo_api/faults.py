"""Declarative fault plans the demo server consults on every request.

A plan is a list of `Fault`s; each matches an endpoint kind (query/events/persons/cohorts/any) and
either explicit request numbers (1-based, counted per endpoint kind) or a probability drawn from a
seeded RNG, optionally limited to `times` firings. The first matching fault wins.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

FaultKind = Literal[
    "status",  # answer `status` (429/500/502/503...) with a PostHog-like error body
    "slow",  # sleep `delay_seconds`, then answer normally
    "reset",  # send part of the body, then reset the connection
    "truncated_json",  # a complete HTTP response whose JSON body is cut short
    "invalid_json",  # a 200 whose body is not JSON at all
    "empty_page",  # results [] although more rows exist (hasMore true / next link kept)
    "short_page",  # fewer rows than asked (half), more still available
    "repeat_rows",  # the page starts with rows the previous page already returned
    "backwards_events",  # append new events whose timestamps lie before the newest ones, then answer
]
EndpointKind = Literal["query", "events", "persons", "cohorts", "any"]


class Fault(BaseModel):
    """One rule of a fault plan."""

    kind: FaultKind
    endpoint: EndpointKind = "any"
    on_requests: set[int] = Field(
        default_factory=set, description="1-based request numbers per endpoint kind"
    )
    probability: float = Field(0.0, ge=0.0, le=1.0)
    times: int | None = Field(None, ge=0, description="stop after firing this many times")
    status: int = 500
    retry_after: float | None = Field(None, ge=0, description="Retry-After seconds for a 429/503")
    delay_seconds: float = Field(0.0, ge=0)
    new_events: int = Field(5, ge=0, description="events added by backwards_events")
    backwards_seconds: float = Field(3600.0, ge=0, description="how far before the newest event they land")


class FaultPlan(BaseModel):
    """Faults plus a seeded RNG; `pick` is thread-safe and records what fired."""

    faults: list[Fault] = Field(default_factory=list)
    seed: int = 0
    _rng: random.Random = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _fired: Counter = PrivateAttr(default_factory=Counter)
    _log: list[tuple[str, int, str]] = PrivateAttr(default_factory=list)

    def model_post_init(self, __context: object) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def at(
        cls, kind: FaultKind, endpoint: EndpointKind = "query", *requests: int, **options: object
    ) -> FaultPlan:
        """One fault on the given request numbers: `FaultPlan.at("status", "query", 2, status=500)`."""
        return cls(faults=[Fault(kind=kind, endpoint=endpoint, on_requests=set(requests), **options)])

    def add(self, fault: Fault) -> FaultPlan:
        with self._lock:
            self.faults.append(fault)
        return self

    def pick(self, endpoint: str, request_number: int) -> Fault | None:
        """The fault to apply to this request, if any."""
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.endpoint not in ("any", endpoint):
                    continue
                if fault.times is not None and self._fired[index] >= fault.times:
                    continue
                hit = request_number in fault.on_requests
                if not hit and fault.probability > 0:
                    hit = self._rng.random() < fault.probability
                if hit:
                    self._fired[index] += 1
                    self._log.append((endpoint, request_number, fault.kind))
                    return fault
        return None

    @property
    def fired(self) -> list[tuple[str, int, str]]:
        """(endpoint, request number, kind) of every fault applied so far."""
        with self._lock:
            return list(self._log)
