"""Typed campaign configuration: the YAML schema of the contract, loaded and checked in one place.

Every problem is reported at once, each with the path of its field (``campaigns[0].schedule[1].at``)
and, where the YAML still knows it, the line it came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.localized import DEFAULT_LANGUAGE, Localized, default_language, is_language_code
from bot.safe_yaml import YamlTooLarge, load_bounded, read_config_text
from bot.timeparse import parse_duration, parse_local_datetime

DEFAULT_CONFIG_PATH = "config/campaign.yaml"
DEFAULT_DATABASE_URL = "sqlite:///listening.db"
OPEN_IDLE_DEFAULT = timedelta(minutes=30)
STRUCTURED_IDLE_DEFAULT = timedelta(days=7)
PLATFORMS = ("telegram", "slack", "console")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    """Base for config sections: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSettings(_Strict):
    """The ``telegram`` section; the adapter is enabled when ``token`` is set."""

    token: str | None = None
    base_url: str = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    url: str | None = None
    secret_token: str | None = None
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    allow_group_chats: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.token)


class SlackSettings(_Strict):
    """The ``slack`` section; the adapter is enabled when ``bot_token`` is set."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    mode: Literal["socket", "http"] = "socket"
    api_url: str = "https://slack.com/api/"
    port: int = Field(default=3000, ge=1, le=65535)
    path: str = "/slack/events"
    channels: dict[str, str] = Field(default_factory=dict)
    users: dict[str, str] = Field(default_factory=dict)
    organisers: list[str] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token)


class MonitoringSettings(_Strict):
    """The ``monitoring`` section: ``/healthz``, ``/readyz`` and ``/metrics`` on their own port.

    Off unless ``port`` is set. Listens on 127.0.0.1 by default: metrics are for the operator's
    network, not the internet (in containers set ``listen: 0.0.0.0`` behind the proxy).
    """

    listen: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)


class Group(_Strict):
    """A stakeholder group; ``self_select`` lets people pick it without an invite."""

    id: str = Field(pattern=_ID)
    label: Localized
    self_select: bool = True


class Condition(_Strict):
    """Ask a step only when an earlier answer in the same flow matches."""

    step: str
    equals: str | int | bool | None = None
    not_equals: str | int | bool | None = None
    any_of: list[str | int] | None = Field(default=None, alias="in")
    at_least: int | None = None
    at_most: int | None = None


class Step(_Strict):
    """One question of a structured flow."""

    id: str = Field(pattern=_ID)
    type: Literal["text", "choice", "multi", "scale", "yesno"]
    ask: Localized
    options: list[Localized] = Field(default_factory=list)
    min: int = 1
    max: int = 5
    labels: dict[int, Localized] = Field(default_factory=dict)
    # Scale points the report counts as "positive"; absent, the report names no good end.
    positive: list[int] | None = None
    # Multi-choice options that cannot be combined with others; absent, "None of these",
    # "None", "Not applicable" and "Prefer not to say" are (an empty list: none are).
    exclusive: list[str] | None = None
    optional: bool = False
    when: Condition | None = None

    @model_validator(mode="after")
    def _points_and_options_exist(self) -> Step:
        """``positive`` and ``labels`` name points of the scale; ``exclusive`` names options."""
        if self.positive is not None and self.min < self.max:  # a bad range is reported apart
            if self.type != "scale":
                raise ValueError("'positive' is only for scale steps")
            outside = [p for p in self.positive if not self.min <= p <= self.max]
            if outside:
                raise ValueError(
                    f"'positive' has {outside[0]}, which is not a point of the scale "
                    f"({self.min} to {self.max})"
                )
        if self.exclusive is not None:
            if self.type != "multi":
                raise ValueError("'exclusive' is only for multi steps")
            known = {o.strip().lower() for o in self.options}
            unknown = [o for o in self.exclusive if o.strip().lower() not in known]
            if unknown:
                raise ValueError(
                    f"'exclusive' has {unknown[0]!r}, which is not one of the options "
                    f"({', '.join(self.options)})"
                )
        return self


class Flow(_Strict):
    """A structured questionnaire or an open conversation."""

    id: str = Field(pattern=_ID)
    kind: Literal["structured", "open"]
    title: Localized | None = None
    intro: Localized | None = None
    steps: list[Step] = Field(default_factory=list)
    opening: Localized | None = None
    probes: list[Localized] = Field(default_factory=list)
    idle: str | None = None
    closing: Localized | None = None
    groups: list[str] | None = None
    """Only these groups are asked this flow (absent: every group of the campaign)."""

    @property
    def idle_timeout(self) -> timedelta:
        """How long a silent participant keeps their place in this flow.

        Open conversations close after 30 minutes of silence by default; a questionnaire left
        half-way keeps its place for a week, so a parent who puts the phone down is not lost.
        """
        if self.idle:
            return parse_duration(self.idle)
        return OPEN_IDLE_DEFAULT if self.kind == "open" else STRUCTURED_IDLE_DEFAULT

    @property
    def display_title(self) -> str:
        return self.title or self.id

    def title_in(self, lang: str | None) -> str:
        return self.title.get(lang) if self.title else self.id


class ScheduleEntry(_Strict):
    """When a flow goes out: exactly one of ``at``, ``cron`` or ``after``."""

    flow: str
    at: str | None = None
    cron: str | None = None
    after: str | None = None
    groups: list[str] | None = None
    """Only these groups get this send (absent: every group the flow is for)."""

    @property
    def key(self) -> str:
        """A stable id for this entry (used by the scheduler and the outbox)."""
        spec = self.at or self.cron or self.after or ""
        return f"{self.flow}@{spec}"


class Reminders(_Strict):
    after: str = "2d"
    max: int = Field(default=1, ge=0, le=10)


class Retention(_Strict):
    """How long a campaign's data is kept after it closes (``retention`` in a campaign).

    ``contact_details``: platform addresses, names and delivery records; ``answers``: the
    answers themselves, deleted then, or kept detached from any pseudonym when ``anonymise``.
    Unset means kept until someone deletes them.
    """

    contact_details: str | None = None
    answers: str | None = None
    anonymise: bool = False

    @field_validator("contact_details", "answers")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # raises ValueError with the accepted forms
        return value

    def contact_limit(self) -> timedelta | None:
        return parse_duration(self.contact_details) if self.contact_details else None

    def answers_limit(self) -> timedelta | None:
        return parse_duration(self.answers) if self.answers else None


class Campaign(_Strict):
    """One listening campaign: who, which flows, when."""

    id: str = Field(pattern=_ID)
    title: Localized
    groups: list[str]
    channels: list[Literal["telegram", "slack", "console"]] | None = None
    consent: Localized
    opens: str | None = None
    closes: str | None = None
    timezone: str | None = None
    quiet_hours: str | None = None
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    reminders: Reminders | None = None
    retention: Retention | None = None


class ReportSettings(_Strict):
    """The ``report`` section: how the committee report protects small groups."""

    # A figure based on fewer people than this is shown as "fewer than N", never a percentage,
    # so one parent or four health visitors cannot be picked out (or over-read) in a report.
    min_group_size: int = Field(default=5, ge=1, le=1000)


class Settings(_Strict):
    """The whole campaign file."""

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Europe/London"
    quiet_hours: str | None = None
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    languages: list[str] = Field(default_factory=lambda: [DEFAULT_LANGUAGE], min_length=1)
    """The languages participants may use; the first is the default (absent: English only)."""
    groups: list[Group]
    flows: list[Flow]
    campaigns: list[Campaign]

    @model_validator(mode="wrap")
    @classmethod
    def _texts_in_default_language(cls, data: Any, handler: Any) -> Settings:
        """Validate every text knowing the default language (the first of ``languages``)."""
        languages = data.get("languages") if isinstance(data, dict) else None
        first = languages[0] if isinstance(languages, list) and languages else None
        default = first if isinstance(first, str) and is_language_code(first) else DEFAULT_LANGUAGE
        with default_language(default):
            return handler(data)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not is_language_code(code):
                raise ValueError(f"{code!r} is not a language code such as en, pl, ur or ar")
        if len(set(value)) != len(value):
            raise ValueError("names a language twice")
        return value

    # ids of imported translations whose default-language text changed since, per language
    _stale_translations: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def stale_translations(self) -> dict[str, list[str]]:
        return self._stale_translations

    @field_validator("database_url")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    # -- look-ups used everywhere -------------------------------------------------------------
    @cached_property
    def flow_by_id(self) -> dict[str, Flow]:
        return {flow.id: flow for flow in self.flows}

    @cached_property
    def group_by_id(self) -> dict[str, Group]:
        return {group.id: group for group in self.groups}

    @cached_property
    def campaign_by_id(self) -> dict[str, Campaign]:
        return {campaign.id: campaign for campaign in self.campaigns}

    def campaign(self, campaign_id: str) -> Campaign:
        try:
            return self.campaign_by_id[campaign_id]
        except KeyError:
            known = ", ".join(self.campaign_by_id) or "none"
            raise ConfigError(f"There is no campaign {campaign_id!r} (known: {known}).") from None

    def campaign_tz(self, campaign: Campaign) -> ZoneInfo:
        return ZoneInfo(campaign.timezone or self.timezone)

    def campaign_window(self, campaign: Campaign) -> tuple[datetime | None, datetime | None]:
        tz = self.campaign_tz(campaign)
        opens = parse_local_datetime(campaign.opens, tz) if campaign.opens else None
        closes = parse_local_datetime(campaign.closes, tz) if campaign.closes else None
        return opens, closes

    def campaign_quiet_hours(self, campaign: Campaign) -> tuple[time, time] | None:
        spec = campaign.quiet_hours or self.quiet_hours
        return parse_quiet_hours(spec) if spec else None

    def enabled_platforms(self) -> list[str]:
        platforms = []
        if self.telegram.enabled:
            platforms.append("telegram")
        if self.slack.enabled:
            platforms.append("slack")
        platforms.append("console")
        return platforms

    def campaign_channels(self, campaign: Campaign) -> list[str]:
        return list(campaign.channels) if campaign.channels else self.enabled_platforms()

    def audience(self, campaign: Campaign, schedule_key: str, flow_id: str) -> list[str]:
        """The groups a send of ``schedule_key`` (an entry's key) goes to; see entry_groups."""
        for entry in campaign.schedule:
            if entry.key == schedule_key:
                return self.entry_groups(campaign, entry)
        return self.entry_groups(campaign, ScheduleEntry(flow=flow_id, after="0s"))

    def entry_groups(self, campaign: Campaign, entry: ScheduleEntry) -> list[str]:
        """The groups a schedule entry goes to, in the campaign's order.

        A campaign's groups, narrowed by the entry's own ``groups`` and by its flow's ``groups``:
        a flow for parents only is never sent to health visitors, whatever the schedule says.
        """
        flow = self.flow_by_id.get(entry.flow)
        return [
            group
            for group in campaign.groups
            if (entry.groups is None or group in entry.groups)
            and (flow is None or flow.groups is None or group in flow.groups)
        ]


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad field: where it is and what is wrong with it.

    Shown as ``flows[0].steps[2].when.equals: message (line 40, flow 1 (pulse), step 3 (age))``:
    the exact path the contract promises, then the YAML line and where it is as a person counts
    (from 1, with ids).
    """

    path: str
    message: str
    line: int | None = None
    place: str = ""

    def __str__(self) -> str:
        # The contract's ``path: message`` comes first, unchanged, so scripts keep working.
        where = [part for part in (f"line {self.line}" if self.line else "", self.place) if part]
        detail = f" ({', '.join(where)})" if where else ""
        return f"{self.path}: {self.message}{detail}"


_PLACE_NAMES = {
    "campaigns": "campaign",
    "flows": "flow",
    "groups": "group",
    "steps": "step",
    "schedule": "schedule entry",
    "probes": "probe",
    "options": "option",
    "channels": "channel",
    "in": "value",
}


def describe_place(loc: tuple[Any, ...], data: Any) -> str:
    """Say where a field is as a person counts: from 1, with the item's id when it has one.

    ``("campaigns", 0, "schedule", 1, "at")`` becomes ``campaign 1 (leeds-2026), schedule entry
    2``; the last key is not repeated (the path already names it).
    """
    parts: list[str] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(part, int) and index > 0 and isinstance(loc[index - 1], str):
            noun = _PLACE_NAMES.get(loc[index - 1], loc[index - 1])
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get("id") if isinstance(item, dict) else None
            parts.append(f"{noun} {part + 1}" + (f" ({name})" if isinstance(name, str) else ""))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return ", ".join(parts)


def parse_quiet_hours(spec: str) -> tuple[time, time]:
    """Read ``"21:00-08:00"`` into a (start, end) pair; the span may cross midnight."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(spec))
    if not match:
        raise ValueError(f'{spec!r} is not a time span; write it like "21:00-08:00"')
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{spec!r} has an hour or minute out of range")
    if (h1, m1) == (h2, m2):
        # An empty span would silently mean "never quiet"; leaving the key out says that.
        raise ValueError(f"{spec!r} starts and ends at the same time; leave it out for none")
    return time(h1, m1), time(h2, m2)


# -- loading --------------------------------------------------------------------------------------
def expand_env(value: Any, environ: dict[str, str] | os._Environ[str] | None = None) -> Any:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) in every string from the environment.

    An unset variable without a default becomes an empty string, so an adapter whose token is not
    set is simply disabled instead of failing the whole file. ``NAME_FILE`` (the Docker secrets
    convention, as in the official PostgreSQL image) names a file whose content is the value when
    ``NAME`` itself is unset.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: _lookup(env, m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(item, env) for item in value]
    if isinstance(value, dict):
        return {key: expand_env(item, env) for key, item in value.items()}
    return value


def _lookup(env: Mapping[str, str], name: str, default: str) -> str:
    """``$NAME``, else the content of the file ``$NAME_FILE`` names (trailing newline dropped)."""
    if name in env:
        return env[name]
    secret_file = env.get(f"{name}_FILE")
    if not secret_file:
        return default
    try:
        return Path(secret_file).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"{name}_FILE names a file that cannot be read ({exc.strerror or type(exc).__name__})."
        ) from None


def _blank_to_none(value: Any) -> Any:
    """Turn empty strings (an unset ``${VAR}``) into None so defaults apply."""
    if isinstance(value, dict):
        return {
            k: _blank_to_none(v) for k, v in value.items() if not (isinstance(v, str) and v == "")
        }
    if isinstance(value, list):
        return [_blank_to_none(item) for item in value]
    return value


def _format_loc(loc: Iterable[Any], *, relative: bool = False) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path or relative else "") + str(part)
    return path or ("" if relative else "(top level)")


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Find the YAML line of the field at ``loc``, or of its nearest existing parent."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _pydantic_problems(error: ValidationError, root: yaml.Node | None) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; unknown keys are not ignored)"
        elif item["type"] == "missing":
            message = "is required but missing"
        elif item["type"] in ("literal_error", "enum"):
            message = f"must be {item['ctx'].get('expected', 'one of the allowed values')}"
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif item["type"] == "string_pattern_mismatch":
            message = "must be letters, digits, '-', '_' or '.', starting with a letter or digit"
        problems.append(Problem(_format_loc(loc), message, _line_of(root, loc)))
    return problems


def _check_duplicates(kind: str, ids: list[str], base: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for index, item in enumerate(ids):
        if item in seen:
            out.append((f"{base}[{index}].id", f"duplicate {kind} id {item!r}"))
        seen.add(item)
    return out


def semantic_problems(settings: Settings) -> list[tuple[str, str]]:
    """Cross-field checks pydantic cannot do alone: references, times, conditions."""
    return _cross_checks(
        settings.timezone,
        settings.quiet_hours,
        settings.slack,
        list(settings.groups),
        list(settings.flows),
        list(settings.campaigns),
    )


def _salvaged_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Cross-field checks on the parts that did validate, or could be made to.

    A type error in one flow must not hide an unknown group in a campaign, nor a wrong ``when``
    value in the same flow: each item is validated on its own, with the fields pydantic rejected
    set aside (see :func:`_salvage`), and still checked, keeping its original index in the paths.
    What is found under a set-aside field was already reported, so it is not repeated.
    """
    set_aside: list[str] = []

    def each(model: type[BaseModel], key: str) -> list[Any]:
        items = data.get(key)
        out: list[Any] = []
        for index, item in enumerate(items if isinstance(items, list) else []):
            model_item, paths = _salvage(model, item)
            out.append(model_item)
            set_aside.extend(f"{key}[{index}]{path}" for path in paths)
        return out

    try:
        slack = SlackSettings.model_validate(data.get("slack") or {})
    except ValidationError:
        slack = SlackSettings()
    timezone = data.get("timezone")
    quiet = data.get("quiet_hours")
    problems = _cross_checks(
        timezone if isinstance(timezone, str) else "Europe/London",
        quiet if isinstance(quiet, str) else None,
        slack,
        each(Group, "groups"),
        each(Flow, "flows"),
        each(Campaign, "campaigns"),
        # Items that failed on their own still count as known ids, so no error is reported twice.
        {key: _raw_ids(data.get(key)) for key in ("groups", "flows")},
    )
    return [
        (path, message)
        for path, message in problems
        if not any(path == p or path.startswith((p + ".", p + "[")) for p in set_aside)
    ]


# Stand-ins for a list item too broken to read, so its neighbours keep their index and are
# still checked; the stand-in's own findings are dropped (the item's mistakes are reported).
_STAND_INS: dict[str, Any] = {
    "steps": lambda old, index: {
        "id": _readable_id(old, f"unreadable-step-{index}"),
        "type": "text",
        "ask": "-",
    },
    "schedule": lambda old, index: {"flow": "", "after": "0s"},
    "reminders": lambda old, index: {},
}


def _readable_id(old: Any, fallback: str) -> str:
    value = old.get("id") if isinstance(old, dict) else None
    return value if isinstance(value, str) and re.match(_ID, value) else fallback


def _salvage(model: type[BaseModel], item: Any, attempts: int = 10) -> tuple[Any, list[str]]:
    """Validate ``item``, setting aside what pydantic rejects, so the rest can be cross-checked.

    Returns the model (None if it could not be read at all) and the paths set aside, relative to
    the item (``.steps[2]``, ``.reminders``).
    """
    import copy

    current = copy.deepcopy(item)
    set_aside: list[str] = []
    for _ in range(attempts):
        try:
            return model.model_validate(current), set_aside
        except ValidationError as exc:
            errors = exc.errors()
        changed = False
        for error in errors:
            loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
            changed |= _set_aside(current, loc, error["type"] == "missing", set_aside)
        if not changed:
            break
    return None, set_aside


def _set_aside(data: Any, loc: tuple[Any, ...], missing: bool, set_aside: list[str]) -> bool:
    """Drop a rejected field, or stand in for the list item it belongs to; True if it changed."""
    for depth in range(len(loc) - 1, -1, -1):
        key = loc[depth]
        holder = _at(data, loc[:depth])
        is_item = isinstance(key, int) and depth > 0 and loc[depth - 1] in _STAND_INS
        if is_item and isinstance(holder, list) and key < len(holder):
            if missing or depth < len(loc) - 1 or not isinstance(holder[key], dict):
                holder[key] = _STAND_INS[loc[depth - 1]](holder[key], key)
                set_aside.append(_format_loc(loc[: depth + 1], relative=True))
                return True
        if depth == len(loc) - 1 and not missing:
            if isinstance(holder, dict) and key in holder:
                if key in _STAND_INS:
                    holder[key] = _STAND_INS[key](holder[key], 0)
                else:
                    del holder[key]
                set_aside.append(_format_loc(loc, relative=True))
                return True
            if isinstance(holder, list) and isinstance(key, int) and key < len(holder):
                holder[key] = ""
                set_aside.append(_format_loc(loc, relative=True))
                return True
    return False


def _at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def _raw_ids(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {str(item["id"]) for item in items if isinstance(item, dict) and "id" in item}


def _cross_checks(
    timezone: str,
    quiet_hours: str | None,
    slack: SlackSettings,
    groups: list[Group | None],
    flows: list[Flow | None],
    campaigns: list[Campaign | None],
    raw_ids: dict[str, set[str]] | None = None,
) -> list[tuple[str, str]]:
    raw_ids = raw_ids or {}
    problems: list[tuple[str, str]] = []
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(("timezone", f"{timezone!r} is not an IANA timezone name"))
    if quiet_hours:
        try:
            parse_quiet_hours(quiet_hours)
        except ValueError as exc:
            problems.append(("quiet_hours", str(exc)))
    problems += _check_duplicates("group", [g.id if g else "" for g in groups], "groups")
    problems += _check_duplicates("flow", [f.id if f else "" for f in flows], "flows")
    problems += _check_duplicates("campaign", [c.id if c else "" for c in campaigns], "campaigns")
    group_ids = {g.id for g in groups if g} | raw_ids.get("groups", set())
    for channel, group in slack.channels.items():
        if group not in group_ids:
            problems.append((f"slack.channels.{channel}", f"unknown group {group!r}"))
    for user, group in slack.users.items():
        if group not in group_ids:
            problems.append((f"slack.users.{user}", f"unknown group {group!r}"))
    flow_ids = {f.id for f in flows if f} | raw_ids.get("flows", set())
    flow_groups = {f.id: f.groups for f in flows if f}
    for index, flow in enumerate(flows):
        if flow:
            problems += _flow_problems(flow, f"flows[{index}]")
            problems += _group_list_problems(flow.groups, f"flows[{index}].groups", group_ids)
    for index, campaign in enumerate(campaigns):
        if campaign:
            problems += _campaign_problems(
                campaign, f"campaigns[{index}]", group_ids, flow_ids, timezone
            )
            problems += _audience_problems(campaign, f"campaigns[{index}]", group_ids, flow_groups)
    return problems


def _group_list_problems(
    groups: list[str] | None, base: str, group_ids: set[str]
) -> list[tuple[str, str]]:
    """A ``groups:`` limit names known groups, at least one."""
    if groups is None:
        return []
    if not groups:
        return [(base, "list at least one group, or leave groups out to ask every group")]
    return [
        (f"{base}[{index}]", f"unknown group {group!r}{_suggest(group, group_ids)}")
        for index, group in enumerate(groups)
        if group not in group_ids
    ]


def _audience_problems(
    campaign: Campaign,
    base: str,
    group_ids: set[str],
    flow_groups: dict[str, list[str] | None],
) -> list[tuple[str, str]]:
    """Each schedule entry reaches someone: its groups take part and its flow is for them."""
    problems: list[tuple[str, str]] = []
    for index, entry in enumerate(campaign.schedule):
        where = f"{base}.schedule[{index}]"
        problems += _group_list_problems(entry.groups, f"{where}.groups", group_ids)
        for n, group in enumerate(entry.groups or []):
            if group in group_ids and group not in campaign.groups:
                problems.append(
                    (f"{where}.groups[{n}]", f"{group!r} does not take part in this campaign")
                )
        limit = flow_groups.get(entry.flow)
        audience = [
            g
            for g in campaign.groups
            if (entry.groups is None or g in entry.groups) and (limit is None or g in limit)
        ]
        named = (entry.groups or []) + (limit or [])
        if not audience and named and all(g in group_ids for g in named):
            for_whom = ", ".join(limit or []) or "nobody"
            problems.append(
                (
                    where,
                    f"goes to nobody: flow {entry.flow!r} is for {for_whom} and this entry is for "
                    f"{', '.join(entry.groups or campaign.groups)}",
                )
            )
    return problems


def _suggest(value: object, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest choice, or nothing when none is close."""
    import difflib

    options = list(choices)
    lowered = {option.lower(): option for option in options}
    text = str(value)
    if text.lower() in lowered:
        return f"; did you mean {lowered[text.lower()]!r}?"
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.5)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


def _normalise_answer(value: object) -> str:
    """An answer as conditions compare it (the same rule as ``bot.flows.answers.normalise``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).strip().lower().rstrip(".!").split())


def _condition_problems(when: Condition, ref: Step, base: str) -> list[tuple[str, str]]:
    """A ``when`` can only come true with a value the referenced step can actually give."""
    problems: list[tuple[str, str]] = []
    values: list[tuple[str, object]] = [
        (key, value)
        for key, value in (("equals", when.equals), ("not_equals", when.not_equals))
        if value is not None
    ]
    values += [(f"in[{n}]", value) for n, value in enumerate(when.any_of or [])]
    ranged = [
        (k, v) for k, v in (("at_least", when.at_least), ("at_most", when.at_most)) if v is not None
    ]
    if not values and not ranged:
        problems.append(
            (
                base,
                f"names step {ref.id!r} but no answer: add equals, in, not_equals, at_least "
                "or at_most",
            )
        )
    for key, value in values:
        message = None
        if ref.type in ("choice", "multi"):
            if _normalise_answer(value) not in {_normalise_answer(o) for o in ref.options}:
                message = (
                    f"{value!r} is not an option of step {ref.id!r}"
                    f"{_suggest(value, ref.options)} (options: {', '.join(ref.options)})"
                )
        elif ref.type == "yesno":
            if _normalise_answer(value) not in ("yes", "no"):
                message = f'step {ref.id!r} is a yes/no question: use "yes" or "no"'
        elif ref.type == "scale":
            try:
                number = float(str(value))
            except ValueError:
                number = None
            if number is None or not ref.min <= number <= ref.max:
                message = (
                    f"step {ref.id!r} is a scale from {ref.min} to {ref.max}: use a number in "
                    "that range"
                )
        if message:
            problems.append((f"{base}.{key}", message))
    for key, number in ranged:
        if ref.type != "scale":
            problems.append(
                (f"{base}.{key}", f"only works on a scale step; {ref.id!r} is a {ref.type} step")
            )
        elif not ref.min <= number <= ref.max:
            problems.append(
                (
                    f"{base}.{key}",
                    f"{number} is outside step {ref.id!r}'s scale of {ref.min} to {ref.max}",
                )
            )
    return problems


def _flow_problems(flow: Flow, base: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    try:
        if flow.idle:
            parse_duration(flow.idle)
    except ValueError as exc:
        problems.append((f"{base}.idle", str(exc)))
    if flow.kind == "open":
        if not flow.opening:
            problems.append((f"{base}.opening", "an open flow needs an opening prompt"))
        if flow.steps:
            problems.append((f"{base}.steps", "an open flow has an opening and probes, not steps"))
        return problems
    if not flow.steps:
        problems.append((f"{base}.steps", "a structured flow needs at least one step"))
    if flow.opening or flow.probes:
        problems.append((f"{base}.opening", "only open flows have an opening and probes"))
    seen: list[str] = []
    for index, step in enumerate(flow.steps):
        where = f"{base}.steps[{index}]"
        if step.id in seen:
            problems.append((f"{where}.id", f"duplicate step id {step.id!r}"))
        if step.type in ("choice", "multi") and len(step.options) < 2:
            problems.append((f"{where}.options", f"a {step.type} step needs at least two options"))
        if step.type not in ("choice", "multi") and step.options:
            problems.append((f"{where}.options", f"a {step.type} step takes no options"))
        if step.type == "scale":
            if step.min >= step.max:
                problems.append((f"{where}.max", "must be greater than min"))
            elif step.max - step.min > 10:
                problems.append((f"{where}.max", "a scale has at most 11 points"))
            for point in step.labels:
                if not step.min <= point <= step.max:
                    problems.append((f"{where}.labels.{point}", "is outside the scale"))
        if step.when is not None and step.when.step not in seen:
            problems.append(
                (
                    f"{where}.when.step",
                    f"{step.when.step!r} is not an earlier step of this flow"
                    f"{_suggest(step.when.step, seen)}",
                )
            )
        elif step.when is not None:
            earlier = next(s for s in flow.steps if s.id == step.when.step)
            problems += _condition_problems(step.when, earlier, f"{where}.when")
        seen.append(step.id)
    return problems


def _campaign_problems(
    campaign: Campaign, base: str, group_ids: set[str], flow_ids: set[str], default_tz: str
) -> list[tuple[str, str]]:
    from bot.scheduling.crontab import cron_trigger

    problems: list[tuple[str, str]] = []
    tz = None
    try:
        tz = ZoneInfo(campaign.timezone or default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        if campaign.timezone:
            problems.append((f"{base}.timezone", f"{campaign.timezone!r} is not an IANA name"))
    if not campaign.groups:
        problems.append((f"{base}.groups", "a campaign needs at least one group"))
    for index, group in enumerate(campaign.groups):
        if group not in group_ids:
            problems.append((f"{base}.groups[{index}]", f"unknown group {group!r}"))
    if not campaign.consent.strip():
        problems.append((f"{base}.consent", "must say what people agree to"))
    if campaign.quiet_hours:
        try:
            parse_quiet_hours(campaign.quiet_hours)
        except ValueError as exc:
            problems.append((f"{base}.quiet_hours", str(exc)))
    window: dict[str, datetime] = {}
    for key in ("opens", "closes"):
        raw = getattr(campaign, key)
        if raw and tz:
            try:
                window[key] = parse_local_datetime(raw, tz)
            except ValueError as exc:
                problems.append((f"{base}.{key}", str(exc)))
    if "opens" in window and "closes" in window and window["closes"] <= window["opens"]:
        problems.append((f"{base}.closes", "must be after opens"))
    if campaign.reminders:
        try:
            parse_duration(campaign.reminders.after)
        except ValueError as exc:
            problems.append((f"{base}.reminders.after", str(exc)))
    keys: set[str] = set()
    for index, entry in enumerate(campaign.schedule):
        where = f"{base}.schedule[{index}]"
        if entry.key in keys:
            problems.append(
                (
                    where,
                    "sends the same flow at the same time as an earlier entry; to reach several "
                    "groups, list them all in one entry's groups",
                )
            )
        keys.add(entry.key)
        if entry.flow not in flow_ids:
            problems.append((f"{where}.flow", f"unknown flow {entry.flow!r}"))
        given = [key for key in ("at", "cron", "after") if getattr(entry, key)]
        if len(given) != 1:
            problems.append((where, "give exactly one of at, cron or after"))
            continue
        try:
            if entry.at and tz:
                problems += _outside_window(
                    parse_local_datetime(entry.at, tz), window, campaign, f"{where}.at"
                )
            elif entry.cron and tz:
                if len(entry.cron.split()) != 5:
                    raise ValueError(
                        f"{entry.cron!r} must have five fields (min hour day month dow)"
                    )
                trigger = cron_trigger(entry.cron, tz)
                if "opens" in window and "closes" in window:
                    first = trigger.get_next_fire_time(None, window["opens"])
                    if first is None or first >= window["closes"]:
                        problems.append(
                            (
                                f"{where}.cron",
                                f"{entry.cron!r} never fires between opens ({campaign.opens}) "
                                f"and closes ({campaign.closes}), so it would never be sent",
                            )
                        )
            elif entry.after:
                parse_duration(entry.after)
        except ValueError as exc:
            problems.append((f"{where}.{given[0]}", str(exc)))
    return problems


def _outside_window(
    moment: datetime, window: dict[str, datetime], campaign: Campaign, path: str
) -> list[tuple[str, str]]:
    """A dated send outside the campaign's opens/closes would silently never go out."""
    if "closes" in window and moment >= window["closes"]:
        return [
            (path, f"is after the campaign closes ({campaign.closes}), so it would never be sent")
        ]
    if "opens" in window and moment < window["opens"]:
        return [
            (path, f"is before the campaign opens ({campaign.opens}), so it would never be sent")
        ]
    return []


def load_settings(
    path: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read, expand and validate the campaign file.

    Args:
        path: the YAML file; defaults to ``$LISTENING_CONFIG`` or ``config/campaign.yaml``.
        environ: the environment to expand ``${NAME}`` from (the process's by default).

    Raises:
        ConfigError: naming the file, with every bad field in ``problems``.
    """
    env = os.environ if environ is None else environ
    chosen = Path(path or env.get("LISTENING_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        text = read_config_text(chosen)
        root, data = load_bounded(text)
    except FileNotFoundError:
        raise ConfigError(f"The config file {chosen} does not exist.") from None
    except YamlTooLarge as exc:
        raise ConfigError(f"The config file {chosen} is refused: {exc.problem}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {chosen} cannot be read: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"The config file {chosen} is not valid YAML{where}: {problem}."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"The config file {chosen} must be a YAML mapping of top-level keys.")
    blank = [
        Problem(path, message, _line_of(root, _parse_path(path)))
        for path, message in _literal_blanks(data)
    ]
    data = _blank_to_none(expand_env(data, env))
    if env.get("LISTENING_DATABASE_URL"):
        # expanded too, so a password can come from a secret file: ...:${DB_PASSWORD}@db/...
        data["database_url"] = expand_env(env["LISTENING_DATABASE_URL"], env)
    else:
        data["database_url"] = resolve_database_url(
            data.get("database_url", DEFAULT_DATABASE_URL), chosen.parent
        )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, root) + blank
        known = {p.path for p in problems}
        problems += [
            Problem(path, message, _line_of(root, _parse_path(path)))
            for path, message in _salvaged_problems(data)
            if path not in known
        ]
    else:
        problems = blank + [
            Problem(path, message, _line_of(root, _parse_path(path)))
            for path, message in semantic_problems(settings)
        ]
        if not problems:
            from bot.translations import apply_translation_files

            # translations imported from a translator's spreadsheet live beside the config
            settings._stale_translations = apply_translation_files(settings, chosen)
            return settings
    problems = [
        replace(p, place=describe_place(_parse_path(p.path), data))
        for p in sorted(problems, key=lambda p: p.line or 0)
    ]
    noun = "problem" if len(problems) == 1 else "problems"
    raise ConfigError(
        f"The config file {chosen} has {len(problems)} {noun}.", [str(p) for p in problems]
    )


def _literal_blanks(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Time settings written as an empty string in the file itself.

    An unset ``${VAR}`` becomes empty too and then means "use the default"; but a literal
    ``timezone: ""`` is a mistake that would otherwise silently mean Europe/London.
    """
    problems: list[tuple[str, str]] = []
    messages = {
        "timezone": "must be an IANA timezone name such as Europe/London, not empty",
        "quiet_hours": 'must be a time span such as "21:00-08:00"; leave it out for none',
    }

    def check(section: Any, base: str) -> None:
        if not isinstance(section, dict):
            return
        for key, message in messages.items():
            value = section.get(key)
            if value == "":  # whitespace is kept and reported as not a name or span
                problems.append((f"{base}{key}", message))

    check(data, "")
    campaigns = data.get("campaigns")
    if isinstance(campaigns, list):
        for index, campaign in enumerate(campaigns):
            check(campaign, f"campaigns[{index}].")
    return problems


def _parse_path(path: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


# -- where the database is ------------------------------------------------------------------------
def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def resolve_database_url(url: Any, base: Path) -> Any:
    """Make a relative SQLite path in the config file relative to the file's own folder.

    So ``status`` run from another folder finds the same database as ``run`` did, instead of
    creating an empty one where it happens to be. Absolute paths, server databases and values
    that are not strings (reported by validation) are returned unchanged.
    """
    if not isinstance(url, str):
        return url
    path = sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    from sqlalchemy.engine import make_url

    absolute = (base / path).resolve()
    return make_url(url).set(database=str(absolute)).render_as_string(hide_password=False)
