"""Pydantic models of the rule files: one model per YAML file, every model refusing unknown keys.

Values are data, never code: identifiers, event names, paths and property keys are checked for
characters that have no business there (control characters, quotes in keys), lengths are capped, and
the SQL receives everything as table rows, so a rule value can never become part of a SQL statement.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rules.templates import parse_template

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,127}$")


class RuleModel(BaseModel):
    """Base for every rule model: unknown keys are errors, numbers are accepted where text is expected."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, str_strip_whitespace=True
    )


class RuleFile(RuleModel):
    """A whole file: a section left empty (`labels:` with every entry commented out) means no rules."""

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                key: value for key, value in data.items() if not (key in cls.model_fields and value is None)
            }
        return data


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters (tabs, newlines, NUL...)")
    return value


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lower-case letters, digits and _ (starting with a letter)"
        )
    return value


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"path {value!r} must start with '/'")
    if re.search(r"\s", value) or _CONTROL.search(value):
        raise ValueError(f"path {value!r} must not contain spaces or control characters")
    return value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_plain_text)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)]
Identifier = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_identifier)]
EventName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)]
PagePath = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_path)]
Severity = Annotated[Literal["HIGH", "MEDIUM", "LOW"], BeforeValidator(_upper)]


# --- classification.yaml -------------------------------------------------------------------------------


class Classification(RuleModel):
    event_type: Identifier
    action_type: Identifier


class AutocaptureClassification(RuleModel):
    event_type: Identifier = "click"
    action_type: Identifier


class KeywordRule(RuleModel):
    keyword: Annotated[ShortText, AfterValidator(str.lower)]
    event_type: Identifier = "custom"
    action_type: Identifier


class ClassificationFile(RuleFile):
    events: dict[EventName, Classification] = {}
    autocapture_event_types: dict[Identifier, AutocaptureClassification] = {}
    keywords: list[KeywordRule] = []


# --- pages.yaml ----------------------------------------------------------------------------------------


class PageRule(RuleModel):
    equals: PagePath | None = None
    prefix: PagePath | None = None
    name: ShortText

    @model_validator(mode="after")
    def _one_match(self) -> PageRule:
        if (self.equals is None) == (self.prefix is None):
            raise ValueError("give exactly one of 'equals' or 'prefix'")
        return self

    @property
    def match_kind(self) -> str:
        return "equals" if self.equals is not None else "prefix"

    @property
    def path(self) -> str:
        return self.equals if self.equals is not None else str(self.prefix)


class PagesFile(RuleFile):
    pages: list[PageRule] = []


# --- labels.yaml ---------------------------------------------------------------------------------------


def _label_template(value: str) -> str:
    parse_template(value)
    return value


LabelTemplate = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_plain_text)]


class LabelsFile(RuleFile):
    labels: dict[EventName, Annotated[LabelTemplate, AfterValidator(_label_template)]] = {}


# --- elements.yaml -------------------------------------------------------------------------------------


class ElementRule(RuleModel):
    attribute: Annotated[str, Field(min_length=1, max_length=128)]
    description: ShortText

    @field_validator("attribute")
    @classmethod
    def _attribute(cls, value: str) -> str:
        if value.startswith("attr__"):
            raise ValueError(f"write the HTML attribute name without the 'attr__' prefix: {value[6:]!r}")
        if not _ATTRIBUTE.match(value):
            raise ValueError(f"{value!r} is not an HTML attribute name")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        rest = value.replace("{base_type}", "")
        if "{" in rest or "}" in rest:
            raise ValueError("the only placeholder allowed in an element description is {base_type}")
        return value


class ElementsFile(RuleFile):
    elements: list[ElementRule] = []


# --- patterns.yaml -------------------------------------------------------------------------------------

FilterValues = Annotated[list[ShortText], Field(min_length=1, max_length=100)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int | float) and not isinstance(value, bool) else value


FilterField = Annotated[FilterValues | None, BeforeValidator(_as_list)]


class EventFilter(RuleModel):
    """Event filter: each key lists alternatives (OR); different keys must all hold (AND)."""

    event_type: FilterField = None
    action_type: FilterField = None
    event_name: FilterField = None
    page_path_prefix: Annotated[list[PagePath] | None, BeforeValidator(_as_list)] = None
    page_path_equals: Annotated[list[PagePath] | None, BeforeValidator(_as_list)] = None
    label_contains: FilterField = None

    def items(self) -> list[tuple[str, str]]:
        """(field, value) pairs in a stable order."""
        out: list[tuple[str, str]] = []
        for name in type(self).model_fields:
            for value in getattr(self, name) or []:
                out.append((name, value))
        return out


class SessionFilter(RuleModel):
    """Bounds on the whole session the pattern is evaluated in (inclusive)."""

    min_duration_seconds: Annotated[int, Field(ge=0)] | None = None
    max_duration_seconds: Annotated[int, Field(ge=0)] | None = None
    min_events: Annotated[int, Field(ge=0)] | None = None
    max_events: Annotated[int, Field(ge=0)] | None = None
    min_pageviews: Annotated[int, Field(ge=0)] | None = None
    max_pageviews: Annotated[int, Field(ge=0)] | None = None

    @field_validator("max_duration_seconds", "max_events", "max_pageviews")
    @classmethod
    def _max_not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        lower_name = "min_" + str(info.field_name)[4:]
        lower = info.data.get(lower_name)
        if value is not None and lower is not None and lower > value:
            raise ValueError(f"{info.field_name} ({value}) is smaller than {lower_name} ({lower})")
        return value


PositiveMinutes = Annotated[float, Field(gt=0, le=60 * 24 * 366)]


class PatternRule(RuleModel):
    code: Identifier
    severity: Severity
    description: Text
    match: EventFilter | None = None
    min_count: Annotated[int, Field(ge=1)] = 1
    time_window_minutes: PositiveMinutes | None = None
    unless: EventFilter | None = None
    unless_within_minutes: PositiveMinutes | None = None
    session: SessionFilter | None = None
    enabled: bool = True

    @field_validator("unless")
    @classmethod
    def _unless_not_empty(cls, value: EventFilter | None) -> EventFilter | None:
        if value is not None and not value.items():
            raise ValueError("'unless' needs at least one filter key (or remove it)")
        return value

    @field_validator("unless_within_minutes")
    @classmethod
    def _window_needs_unless(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("unless") is None:
            raise ValueError("'unless_within_minutes' only makes sense together with 'unless'")
        return value

    @property
    def time_window_seconds(self) -> int | None:
        return None if self.time_window_minutes is None else max(1, round(self.time_window_minutes * 60))

    @property
    def negative_window_seconds(self) -> int | None:
        return None if self.unless_within_minutes is None else max(1, round(self.unless_within_minutes * 60))


class PatternsFile(RuleFile):
    patterns: list[PatternRule] = []


# --- cohorts.yaml --------------------------------------------------------------------------------------


class CohortFilters(RuleModel):
    properties: dict[str, Any]


class CohortRule(RuleModel):
    key: Identifier
    name: ShortText
    description: Annotated[str, Field(max_length=500), AfterValidator(_plain_text)] = ""
    project_id: Annotated[int, Field(ge=1)] | None = None
    filters: CohortFilters

    @property
    def cohort_id(self) -> str:
        return f"rules:{self.key}"


class CohortsFile(RuleFile):
    cohorts: list[CohortRule] = []


# --- privacy.yaml --------------------------------------------------------------------------------------


def _redact_key(value: str) -> str:
    _plain_text(value)
    if any(char in value for char in "\"'\\"):
        raise ValueError(f"property key {value!r} must not contain quotes or backslashes")
    return value


class PrivacyFile(RuleFile):
    redact: dict[
        Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_redact_key)], ShortText
    ] = {}


FILE_MODELS: dict[str, type[RuleFile]] = {
    "classification.yaml": ClassificationFile,
    "pages.yaml": PagesFile,
    "labels.yaml": LabelsFile,
    "elements.yaml": ElementsFile,
    "patterns.yaml": PatternsFile,
    "cohorts.yaml": CohortsFile,
    "privacy.yaml": PrivacyFile,
}


class RuleSet(BaseModel):
    """Every rule file, validated. ``source`` is the folder they came from (for messages and lineage)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    source: str
    classification: ClassificationFile
    pages: PagesFile
    labels: LabelsFile
    elements: ElementsFile
    patterns: PatternsFile
    cohorts: CohortsFile
    privacy: PrivacyFile
    cohort_nodes: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []

    @property
    def redact_keys(self) -> set[str]:
        """Lower-cased property keys to redact (the export writer's ``redact_keys``)."""
        return {key.lower() for key in self.privacy.redact}
