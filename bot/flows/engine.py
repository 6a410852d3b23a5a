"""The platform-free conversation engine: state + input + now -> replies, records and effects.

Pure and synchronous: no I/O, no clock, no database. The dispatcher feeds it and carries out what
it returns, so every rule about consent, flows and rights is testable with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.config import Campaign, Condition, Flow, Settings, Step
from bot.events import Choice, Outbound
from bot.flows import messages as say
from bot.flows.answers import InvalidAnswer, normalise, parse_answer, parse_yesno, step_choices
from bot.flows.catalogs import catalog
from bot.flows.intents import is_blank, is_skip_word, is_stop, plain_word
from bot.flows.state import ActiveFlow, ConversationState, PendingFlow
from bot.localized import native_name, platform_language
from bot.timeparse import parse_duration

InputKind = Literal["text", "button", "voice", "media"]
COMMANDS = ("start", "help", "stop", "mydata", "delete", "done", "skip", "language")


@dataclass(frozen=True, slots=True)
class InviteCheck:
    """What the dispatcher found for an invite code: a campaign and group, or why not."""

    code: str
    campaign_id: str | None = None
    group_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UserInput:
    """One normalised thing a participant did, as the engine sees it."""

    text: str
    at: datetime
    kind: InputKind = "text"
    file_id: str | None = None
    invite: InviteCheck | None = None
    # A group the platform already knows (a Slack user mapping, a mapped channel they joined
    # through): it fixes the group like an invite does, so the person is not asked for it.
    group_hint: str | None = None
    # The language the platform reports for the person (``pl``, ``en-GB``), if any.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """An answer to store, tagged with where in the campaign it belongs."""

    campaign_id: str
    flow_id: str
    step_id: str
    kind: str
    answer: str
    file_id: str | None = None


@dataclass(frozen=True, slots=True)
class Enrol:
    campaign_id: str
    group_id: str
    invite_code: str | None


@dataclass(frozen=True, slots=True)
class OptOut:
    campaign_id: str | None


@dataclass(frozen=True, slots=True)
class Erase:
    """Erase the participant everywhere (also used when consent is declined)."""


@dataclass(frozen=True, slots=True)
class ShowData:
    """Tell the participant what we hold about them (the dispatcher has the data)."""


@dataclass(frozen=True, slots=True)
class FlowStarted:
    """A flow's first question went out (what `status` counts as prompted)."""

    campaign_id: str
    flow_id: str
    entry_key: str


@dataclass(frozen=True, slots=True)
class FlowEnded:
    campaign_id: str
    flow_id: str
    entry_key: str
    completed: bool


Effect = Enrol | OptOut | Erase | ShowData | FlowStarted | FlowEnded


@dataclass(slots=True)
class Transition:
    """What one input (or scheduled offer) leads to."""

    state: ConversationState
    replies: list[Outbound] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    # The language the replies are written in (the participant's, else the default).
    lang: str = "en"

    def say(
        self,
        text: str,
        choices: Iterable[Choice] = (),
        *,
        multi: bool = False,
        ref: str | None = None,
    ) -> None:
        # The language goes with the message, so words an adapter adds (a Done button, a
        # typing hint) are in it too.
        self.replies.append(Outbound(text, tuple(choices), multi, ref, self.lang))


def parse_command(text: str) -> tuple[str, str] | None:
    """Split ``/start@bot CODE`` into ("start", "CODE"); None if the text is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, arg = stripped[1:].partition(" ")
    return head.split("@", 1)[0].lower(), arg.strip()


class Engine:
    """Runs consent, enrolment, flows and the rights commands for one platform."""

    def __init__(self, settings: Settings, platform: str, *, rehearsal: bool = False) -> None:
        self.settings = settings
        self.platform = platform
        self.rehearsal = rehearsal
        # Read every catalog now, so handling a message never touches the disk.
        self._catalogs = {lang: catalog(lang) for lang in settings.languages}

    def _tr(self, t: Transition, msgid: str) -> str:
        """The bot's own message ``msgid`` in the language of this transition."""
        found = self._catalogs.get(t.lang)
        return found.gettext(msgid) if found is not None else msgid

    def _lang_of(self, state: ConversationState) -> str:
        lang = state.language
        return lang if lang in self.settings.languages else self.settings.default_language

    def _yes_no(self, t: Transition) -> tuple[Choice, ...]:
        return (Choice(self._tr(t, say.YES), "yes"), Choice(self._tr(t, say.NO), "no"))

    def _parse_yesno(self, t: Transition, text: str) -> bool | None:
        """Yes/no in English words, or the words of the participant's language."""
        answer = parse_yesno(text)
        if answer is None and t.lang != "en":
            word = normalise(text)
            if word == normalise(self._tr(t, say.YES)):
                return True
            if word == normalise(self._tr(t, say.NO)):
                return False
        return answer

    def _language_choices(self) -> list[Choice]:
        return [Choice(native_name(lang), lang) for lang in self.settings.languages]

    # -- entry points -----------------------------------------------------------------------
    def handle(self, state: ConversationState, event: UserInput) -> Transition:
        """React to one input from the participant.

        Guarantees, in this order: a stop ("/stop", or plain "stop"/"unsubscribe" in any case)
        stops at once and nothing is recorded from that message or any later one until the
        person rejoins; a message that shows nothing on screen is never an answer; a plain
        "skip" is ``/skip``.
        """
        t = self.expire(state, event.at)
        # The platform's language, when it is one of the config's, is theirs until they say
        # otherwise with /language; nobody is asked what the platform already said. The
        # console says it once per rehearsal (`run --console --lang`), and that wins.
        reported = platform_language(event.language, self.settings.languages)
        if reported is not None and (t.state.language is None or self.platform == "console"):
            t.state.language = t.lang = reported
        command = self._command_of(t.state, event)
        if t.state.confirming == "stop" or (command is not None and command[0] == "stop"):
            # A state saved by an older version may still be waiting for a "yes" to /stop: the
            # person asked to stop, so they are stopped and this message is not kept either.
            t.state.confirming = None
            return self._stop(t)
        if command is None and self._blank(t.state, event):
            return self._on_blank(t, event.at)
        if t.state.confirming and command is None:
            return self._on_confirmation(t, event)
        if t.state.confirming:
            t.state.confirming = None
        if command is not None:
            return self._on_command(t, command[0], command[1], event)
        return self._on_message(t, event)

    def _command_of(self, state: ConversationState, event: UserInput) -> tuple[str, str] | None:
        """The command a message stands for: a slash command, or a plain word that means one."""
        if event.kind not in ("text", "button"):
            return None
        command = parse_command(event.text)
        if command is not None:
            return command
        # A plain word that is also an option of the open question ("Stop" in "Should the
        # service stop or continue?") answers the question; the slash command always acts.
        if event.kind == "text" and is_stop(event.text) and not self._is_option(state, event):
            return ("stop", "")
        if (
            is_skip_word(event.text)
            and state.stage == "enrolled"
            and not self._is_option(state, event)
        ):
            return ("skip", "")
        return None

    def _is_option(self, state: ConversationState, event: UserInput) -> bool:
        """True when the open question has an option that is literally this word."""
        active = state.active
        flow = self.settings.flow_by_id.get(active.flow_id) if active else None
        if state.stage != "enrolled" or active is None or flow is None:
            return False
        if flow.kind != "structured":
            return False
        step = next((st for st in flow.steps if st.id == active.step_id), None)
        word = plain_word(event.text)
        return step is not None and any(
            normalise(text) == word for o in step.options for text in (o, *o.translations.values())
        )

    @staticmethod
    def _blank(state: ConversationState, event: UserInput) -> bool:
        """A typed message that shows nothing, from someone past their first contact."""
        return event.kind == "text" and state.stage != "new" and is_blank(event.text)

    def offer_flow(
        self,
        state: ConversationState,
        campaign_id: str,
        entry_key: str,
        flow_id: str,
        now: datetime,
        *,
        reminder: bool = False,
    ) -> Transition:
        """A scheduled flow (or reminder) is due for this participant."""
        t = self.expire(state, now)
        s = t.state
        if s.stage != "enrolled" or s.campaign_id != campaign_id or self._closed(campaign_id, now):
            return t
        if s.is_finished(campaign_id, entry_key):
            return t
        if s.active and s.active.entry_key == entry_key and s.active.campaign_id == campaign_id:
            if reminder:
                t.say(self._tr(t, say.REMINDER))
                self._prompt_current(t)
            return t
        if any(p.entry_key == entry_key and p.campaign_id == campaign_id for p in s.pending):
            return t
        s.pending.append(PendingFlow(campaign_id, flow_id, entry_key))
        self._advance(t, now)
        return t

    def expire(self, state: ConversationState, now: datetime) -> Transition:
        """Close an active flow whose participant has been silent longer than its idle time."""
        t = Transition(replace(state, pending=list(state.pending), finished=list(state.finished)))
        t.lang = self._lang_of(state)
        active = t.state.active
        if active is None:
            return t
        flow = self.settings.flow_by_id.get(active.flow_id)
        if flow is None or now - active.last_input_at >= flow.idle_timeout:
            completed = flow is not None and flow.kind == "open" and active.open_answers > 0
            self._end_flow(t, completed=completed, announce=False)
        return t

    # -- commands ---------------------------------------------------------------------------
    def _on_command(self, t: Transition, name: str, arg: str, event: UserInput) -> Transition:
        s = t.state
        if name == "start":
            return self._start(t, arg, event)
        if name == "help":
            help_text = self._tr(t, say.HELP)
            if len(self.settings.languages) > 1:
                help_text += "\n" + self._tr(t, say.HELP_LANGUAGE)
            t.say(help_text)
            return t
        if name == "language" and len(self.settings.languages) > 1:
            s.confirming = "language"
            if arg and _pick(self._language_choices(), arg) is not None:
                return self._on_language_choice(t, replace(event, text=arg))
            t.say(self._tr(t, say.CHOOSE_LANGUAGE), self._language_choices(), ref="language")
            return t
        if name == "mydata":
            t.effects.append(ShowData())
            return t
        if name == "delete":
            s.confirming = "delete"
            t.say(self._tr(t, say.DELETE_CONFIRM), self._yes_no(t))
            return t
        if name in ("done", "skip"):
            return self._done_or_skip(t, name, event.at)
        t.say(self._tr(t, say.UNKNOWN_COMMAND).format(command="/" + name))
        return t

    def _on_confirmation(self, t: Transition, event: UserInput) -> Transition:
        s = t.state
        if s.confirming == "language":
            return self._on_language_choice(t, event)
        answer = self._parse_yesno(t, event.text) if event.kind in ("text", "button") else None
        s.confirming = None
        if answer is None:
            # Not a yes/no: cancel the question and treat the message as what it is.
            t.say(self._tr(t, say.CANCELLED))
            return self._on_message(t, event)
        if not answer:
            t.say(self._tr(t, say.CANCELLED))
            self._prompt_current(t)
            return t
        t.effects.append(Erase())
        t.state = ConversationState()
        t.say(self._tr(t, say.DELETED))
        return t

    def _stop(self, t: Transition) -> Transition:
        """Stop at once, in one message: no more questions, nothing more kept.

        Stopping is not erasing: someone who has not joined through the chat may still take
        part elsewhere (a mapped Slack channel), so every enrolment is opted out and nothing is
        deleted; ``/delete`` is the way to erase.
        """
        s = t.state
        if s.active:
            self._end_flow(t, completed=False, announce=False)
        s.pending.clear()
        if s.stage != "stopped":
            enrolled = s.stage == "enrolled"
            t.effects.append(OptOut(s.campaign_id if enrolled else None))
            s.stage = "stopped"
        t.say(self._tr(t, say.STOPPED))
        return t

    def _on_blank(self, t: Transition, now: datetime) -> Transition:
        """An empty or invisible-only message: say so gently and ask the same thing again."""
        s = t.state
        t.say(self._tr(t, say.BLANK))
        if s.confirming == "delete":
            t.say(self._tr(t, say.DELETE_CONFIRM), self._yes_no(t))
        elif s.stage in ("consent", "choose_group"):
            self._ask_join_step_again(t)
        elif s.stage == "choose_campaign":
            options = self._open_campaigns(now)
            t.say(
                self._tr(t, say.CHOOSE_CAMPAIGN),
                [Choice(c.title.get(t.lang), c.id) for c in options],
            )
        elif s.stage == "enrolled" and s.active is not None:
            self._prompt_current(t)
        return t

    def _done_or_skip(self, t: Transition, name: str, now: datetime) -> Transition:
        active = t.state.active
        if active is None:
            t.say(
                self._tr(t, say.NOTHING_TO_FINISH)
                if name == "done"
                else self._tr(t, say.NOTHING_TO_SKIP)
            )
            return t
        flow = self.settings.flow_by_id[active.flow_id]
        if flow.kind == "open":
            self._end_flow(t, completed=active.open_answers > 0, announce=True)
            self._advance(t, now)
            return t
        if name == "done":
            t.say(self._tr(t, say.DONE_IN_STRUCTURED))
            self._prompt_current(t)
            return t
        step = _step(flow, active.step_id)
        if not step.optional:
            t.say(self._tr(t, say.CANNOT_SKIP))
            self._prompt_current(t)
            return t
        t.say(self._tr(t, say.SKIPPED))
        active.last_input_at = now
        self._next_step(t, flow, step, now)
        return t

    # -- joining ----------------------------------------------------------------------------
    def _start(self, t: Transition, code: str, event: UserInput) -> Transition:
        s = t.state
        invite = event.invite if code else None
        if invite and invite.error:
            t.say(invite.error)
        if s.stage == "enrolled":
            campaign = self.settings.campaign_by_id.get(s.campaign_id or "")
            t.say(
                self._tr(t, say.ALREADY_IN).format(
                    title=campaign.title.get(t.lang) if campaign else s.campaign_id
                )
            )
            if s.active:
                self._prompt_current(t)
            elif not self._advance(t, event.at):
                t.say(self._tr(t, say.NOTHING_NOW))
            return t
        s.stage, s.active, s.pending = "new", None, []
        s.campaign_id = s.group_id = s.invite_code = None
        if invite and invite.campaign_id and not invite.error:
            if self._closed(invite.campaign_id, event.at):
                t.say(self._tr(t, say.CLOSED))
                return t
            # The code as stored (the dispatcher resolved case and dashes), not as typed.
            s.campaign_id, s.group_id = invite.campaign_id, invite.group_id
            s.invite_code = invite.code
            return self._ask_consent(t)
        campaigns = self._open_campaigns(event.at)
        if not campaigns:
            t.say(self._tr(t, say.NO_CAMPAIGN))
            return t
        if len(campaigns) > 1:
            s.stage = "choose_campaign"
            t.say(
                self._tr(t, say.CHOOSE_CAMPAIGN),
                [Choice(c.title.get(t.lang), c.id) for c in campaigns],
            )
            return t
        s.campaign_id = campaigns[0].id
        return self._ask_consent(t)

    def _ask_consent(self, t: Transition) -> Transition:
        campaign = self.settings.campaign(t.state.campaign_id or "")
        # The console rehearsal never asks: it speaks what `run --console --lang` said.
        asks = self.platform != "console" and len(self.settings.languages) > 1
        if t.state.language is None and asks:
            t.state.stage = "choose_language"
            t.say(self._language_question(), self._language_choices(), ref="language")
            return t
        t.state.stage = "consent"
        t.say(self._tr(t, say.WELCOME).format(title=campaign.title.get(t.lang)))
        t.say(campaign.consent.get(t.lang).strip(), self._yes_no(t), ref=f"{campaign.id}:consent")
        return t

    def _selectable_groups(self, campaign: Campaign, lang: str) -> list[Choice]:
        groups = self.settings.group_by_id
        return [
            Choice(groups[g].label.get(lang), g)
            for g in campaign.groups
            if g in groups and groups[g].self_select
        ]

    def _language_question(self) -> str:
        """ "Which language?" asked in every offered language, since we don't know theirs yet."""
        return "\n".join(
            self._catalogs[lang].gettext(say.CHOOSE_LANGUAGE) for lang in self.settings.languages
        )

    def _on_language_choice(self, t: Transition, event: UserInput) -> Transition:
        """An answer to /language: switch, say so in the new language, ask the question again."""
        s = t.state
        s.confirming = None
        picked = (
            _pick(self._language_choices(), event.text)
            if event.kind in ("text", "button")
            else None
        )
        if picked is None:
            t.say(self._tr(t, say.CANCELLED))
            return self._on_message(t, event)
        s.language = t.lang = picked
        t.say(self._tr(t, say.LANGUAGE_SET))
        if s.stage in ("consent", "choose_group"):
            self._ask_join_step_again(t)
        elif s.stage == "enrolled":
            self._prompt_current(t)
        return t

    def _on_join_step(self, t: Transition, event: UserInput) -> Transition:
        s = t.state
        if s.stage == "choose_language":
            picked = _pick(self._language_choices(), event.text)
            if picked is None:
                t.say(self._tr(t, say.LANGUAGE_REASK))
                t.say(self._language_question(), self._language_choices(), ref="language")
                return t
            s.language = t.lang = picked
            return self._ask_consent(t)
        if s.stage == "choose_campaign":
            options = self._open_campaigns(event.at)
            picked = _pick([Choice(c.title.get(t.lang), c.id) for c in options], event.text)
            if picked is None:
                t.say(
                    self._tr(t, say.CHOOSE_CAMPAIGN),
                    [Choice(c.title.get(t.lang), c.id) for c in options],
                )
                return t
            s.campaign_id = picked
            return self._ask_consent(t)
        campaign = self.settings.campaign(s.campaign_id or "")
        if s.stage == "consent":
            agreed = self._parse_yesno(t, event.text) if event.kind in ("text", "button") else None
            if agreed is None:
                t.say(self._tr(t, say.CONSENT_REASK), self._yes_no(t))
                return t
            if not agreed:
                t.effects.append(Erase())
                t.state = ConversationState()
                t.say(self._tr(t, say.DECLINED))
                return t
            if not s.group_id and event.group_hint in campaign.groups:
                s.group_id = event.group_hint
            if s.group_id:
                return self._enrol(t, event.at)
            choices = self._selectable_groups(campaign, t.lang)
            if not choices:
                t.effects.append(Erase())
                t.state = ConversationState()
                t.say(self._tr(t, say.INVITE_ONLY))
                return t
            s.stage = "choose_group"
            t.say(self._tr(t, say.CHOOSE_GROUP), choices, ref=f"{campaign.id}:group")
            return t
        choices = self._selectable_groups(campaign, t.lang)
        picked = _pick(choices, event.text)
        if picked is None:
            t.say(self._tr(t, say.GROUP_REASK), choices, ref=f"{campaign.id}:group")
            return t
        s.group_id = picked
        return self._enrol(t, event.at)

    def _enrol(self, t: Transition, now: datetime) -> Transition:
        s = t.state
        campaign = self.settings.campaign(s.campaign_id or "")
        s.stage = "enrolled"
        t.effects.append(Enrol(campaign.id, s.group_id or "", s.invite_code))
        label = self.settings.group_by_id[s.group_id or ""].label.get(t.lang)
        t.say(self._tr(t, say.ENROLLED).format(group=label))
        for entry in campaign.schedule:
            if s.group_id not in self.settings.entry_groups(campaign, entry):
                continue  # a flow limited to other groups is never offered, rehearsal or not
            due_now = entry.after is not None and parse_duration(entry.after) <= timedelta(0)
            if self.rehearsal or due_now:
                s.pending.append(PendingFlow(campaign.id, entry.flow, entry.key))
        if self.rehearsal:
            s.pending = self._rehearsal_order(campaign, s.pending, now)
        if not self._advance(t, now):
            t.say(self._tr(t, say.NOTHING_NOW))
        return t

    def _ask_join_step_again(self, t: Transition) -> None:
        """Ask the consent or group question the person is on again, in their language."""
        s = t.state
        campaign = self.settings.campaign_by_id.get(s.campaign_id or "")
        if campaign is None:
            return
        if s.stage == "consent":
            t.say(
                campaign.consent.get(t.lang).strip(), self._yes_no(t), ref=f"{campaign.id}:consent"
            )
        else:
            choices = self._selectable_groups(campaign, t.lang)
            t.say(self._tr(t, say.CHOOSE_GROUP), choices, ref=f"{campaign.id}:group")

    def _rehearsal_order(
        self, campaign: Campaign, pending: list[PendingFlow], now: datetime
    ) -> list[PendingFlow]:
        """Order flows by when they would first go out for someone joining now."""
        from bot.scheduling.preview import first_send

        order = {e.key: first_send(self.settings, campaign, e, now) for e in campaign.schedule}
        far = now + timedelta(days=36500)
        return sorted(pending, key=lambda p: order.get(p.entry_key) or far)

    # -- answering --------------------------------------------------------------------------
    def _on_message(self, t: Transition, event: UserInput) -> Transition:
        s = t.state
        if s.stage == "new":
            return self._start(t, "", event)
        if s.stage == "stopped":
            t.say(self._tr(t, say.STOPPED_ALREADY))
            return t
        if s.stage in ("choose_campaign", "choose_language", "consent", "choose_group"):
            if event.kind not in ("text", "button"):
                t.say(self._tr(t, say.MEDIA_NOT_READ))
                return t
            return self._on_join_step(t, event)
        if s.campaign_id and self._closed(s.campaign_id, event.at):
            s.active, s.pending = None, []
            t.say(self._tr(t, say.CLOSED))
            return t
        if event.kind == "media":
            t.say(self._tr(t, say.MEDIA_NOT_READ))
            return t
        active = s.active
        if active is None:
            self._unprompted(t, event)
            return t
        flow = self.settings.flow_by_id[active.flow_id]
        if flow.kind == "open":
            return self._on_open_answer(t, flow, event)
        return self._on_structured_answer(t, flow, event)

    def _unprompted(self, t: Transition, event: UserInput) -> None:
        """Keep a comment sent when no question is open: losing it would be worse than noise."""
        s = t.state
        if event.kind == "button":
            t.say(self._tr(t, say.NOTHING_NOW))
            return
        if event.kind == "text" and is_blank(event.text):
            t.say(self._tr(t, say.NOTHING_NOW))
            return
        kind = "voice" if event.kind == "voice" else "open"
        flow_id = s.last_flow_id or "unprompted"
        t.records.append(
            Record(s.campaign_id or "", flow_id, "unprompted", kind, event.text, event.file_id)
        )
        t.say(self._tr(t, say.NOTHING_NOW))

    def _on_open_answer(self, t: Transition, flow: Flow, event: UserInput) -> Transition:
        active = t.state.active
        assert active is not None
        if event.kind == "button" or is_blank(event.text) and event.kind != "voice":
            t.say(
                self._tr(t, say.TEXT_TOO_BLANK)
                if event.kind != "button"
                else self._tr(t, say.OPEN_HINT)
            )
            return t
        kind = "voice" if event.kind == "voice" else "open"
        t.records.append(
            Record(active.campaign_id, flow.id, active.step_id, kind, event.text, event.file_id)
        )
        active.open_answers += 1
        active.last_input_at = event.at
        if event.kind == "voice":
            t.say(self._tr(t, say.VOICE_KEPT))
        if active.probes_asked < len(flow.probes):
            active.probes_asked += 1
            active.step_id = f"probe-{active.probes_asked}"
            t.say(flow.probes[active.probes_asked - 1].get(t.lang), ref=self._ref(active))
        elif active.step_id != "more":
            active.step_id = "more"
            t.say(self._tr(t, say.OPEN_MORE))
        elif event.kind != "voice":
            t.say(self._tr(t, say.OPEN_NOTED))
        return t

    def _on_structured_answer(self, t: Transition, flow: Flow, event: UserInput) -> Transition:
        active = t.state.active
        assert active is not None
        step = _step(flow, active.step_id)
        if event.kind == "voice":
            if step.type != "text":
                t.say(self._tr(t, say.VOICE_NOT_HERE))
                self._prompt_current(t)
                return t
            answer, kind = event.text, "voice"
        else:
            yes_no = self._parse_yesno(t, event.text) if step.type == "yesno" else None
            try:
                answer = parse_answer(step, event.text) if yes_no is None else _as_answer(yes_no)
                kind = step.type
            except InvalidAnswer as exc:
                # the question follows with its own hint
                t.say(exc.text(lambda msgid: self._tr(t, msgid), short=True))
                self._prompt_current(t)
                return t
        t.records.append(Record(active.campaign_id, flow.id, step.id, kind, answer, event.file_id))
        active.answers[step.id] = answer
        active.last_input_at = event.at
        self._next_step(t, flow, step, event.at)
        return t

    # -- moving through flows ---------------------------------------------------------------
    def _next_step(self, t: Transition, flow: Flow, current: Step, now: datetime) -> None:
        active = t.state.active
        assert active is not None
        index = flow.steps.index(current)
        for step in flow.steps[index + 1 :]:
            if _condition_holds(step.when, active.answers):
                active.step_id = step.id
                self._prompt_current(t)
                return
        self._end_flow(t, completed=True, announce=True)
        self._advance(t, now)

    def _end_flow(self, t: Transition, *, completed: bool, announce: bool) -> None:
        s = t.state
        active = s.active
        if active is None:
            return
        flow = self.settings.flow_by_id.get(active.flow_id)
        if announce and flow is not None:
            t.say(
                flow.closing.get(t.lang)
                if flow.closing
                else self._tr(t, say.FLOW_DONE).format(title=flow.title_in(t.lang))
            )
        if completed:
            s.finished.append(f"{active.campaign_id}:{active.entry_key}")
        t.effects.append(FlowEnded(active.campaign_id, active.flow_id, active.entry_key, completed))
        s.last_flow_id = active.flow_id
        s.active = None

    def _advance(self, t: Transition, now: datetime) -> bool:
        """Start the next waiting flow if none is under way; True if a flow is now active."""
        s = t.state
        while s.active is None and s.pending:
            nxt = s.pending.pop(0)
            flow = self.settings.flow_by_id.get(nxt.flow_id)
            if flow is None or s.is_finished(nxt.campaign_id, nxt.entry_key):
                continue
            self._begin(t, flow, nxt, now)
        return s.active is not None

    def _begin(self, t: Transition, flow: Flow, pending: PendingFlow, now: datetime) -> None:
        if flow.kind == "open":
            first = "opening"
        else:
            first_step = next((st for st in flow.steps if _condition_holds(st.when, {})), None)
            if first_step is None:
                return
            first = first_step.id
        t.state.active = ActiveFlow(
            pending.campaign_id, flow.id, pending.entry_key, first, now, now
        )
        t.effects.append(FlowStarted(pending.campaign_id, flow.id, pending.entry_key))
        if flow.intro:
            t.say(flow.intro.get(t.lang))
        self._prompt_current(t)

    def _prompt_current(self, t: Transition) -> None:
        active = t.state.active
        if active is None:
            return
        flow = self.settings.flow_by_id[active.flow_id]
        ref = self._ref(active)
        if flow.kind == "open":
            if active.step_id == "opening":
                opening = flow.opening.get(t.lang).strip() if flow.opening else ""
                t.say(f"{opening}\n\n{self._tr(t, say.OPEN_HINT)}", ref=ref)
            elif active.step_id.startswith("probe-"):
                t.say(flow.probes[int(active.step_id.split("-")[1]) - 1].get(t.lang), ref=ref)
            else:
                t.say(self._tr(t, say.OPEN_MORE), ref=ref)
            return
        step = _step(flow, active.step_id)
        t.say(
            _question_text(step, t.lang, lambda msgid: self._tr(t, msgid)),
            step_choices(step, t.lang, yes_no=self._yes_no(t)),
            multi=step.type == "multi",
            ref=ref,
        )

    @staticmethod
    def _ref(active: ActiveFlow) -> str:
        return f"{active.campaign_id}:{active.flow_id}:{active.step_id}"

    # -- campaign windows -------------------------------------------------------------------
    def _closed(self, campaign_id: str, now: datetime) -> bool:
        campaign = self.settings.campaign_by_id.get(campaign_id)
        if campaign is None:
            return True
        _, closes = self.settings.campaign_window(campaign)
        return closes is not None and now >= closes

    def _open_campaigns(self, now: datetime) -> list[Campaign]:
        return [
            c
            for c in self.settings.campaigns
            if self.platform in self.settings.campaign_channels(c) and not self._closed(c.id, now)
        ]


def _pick(choices: list[Choice], text: str) -> str | None:
    token = normalise(text)
    if token.isdecimal() and 1 <= int(token) <= len(choices):
        return choices[int(token) - 1].value
    for choice in choices:
        if token in (normalise(choice.value), normalise(choice.label)):
            return choice.value
    return None


def _step(flow: Flow, step_id: str) -> Step:
    for step in flow.steps:
        if step.id == step_id:
            return step
    raise KeyError(f"flow {flow.id!r} has no step {step_id!r}")


def _as_answer(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return normalise(str(value))


def _condition_holds(when: Condition | None, answers: dict[str, str]) -> bool:
    """Decide whether a step's ``when`` is met by earlier answers (unanswered means not met)."""
    if when is None:
        return True
    if when.step not in answers:
        return False
    given = normalise(answers[when.step])
    chosen = {normalise(part) for part in given.split(";")}
    if when.equals is not None and _as_answer(when.equals) not in chosen | {given}:
        return False
    if when.not_equals is not None and _as_answer(when.not_equals) in chosen | {given}:
        return False
    if when.any_of is not None and not {_as_answer(v) for v in when.any_of} & (chosen | {given}):
        return False
    if when.at_least is not None or when.at_most is not None:
        try:
            number = float(given)
        except ValueError:
            return False
        if when.at_least is not None and number < when.at_least:
            return False
        if when.at_most is not None and number > when.at_most:
            return False
    return True


def _question_text(step: Step, lang: str, tr: Callable[[str], str]) -> str:
    optional_hint = tr(say.OPTIONAL_HINT)
    ask = step.ask.get(lang).strip()
    if step.type == "scale":
        ends = []
        if step.min in step.labels:
            ends.append(f"{step.min} = {step.labels[step.min].get(lang)}")
        if step.max in step.labels:
            ends.append(f"{step.max} = {step.labels[step.max].get(lang)}")
        scale = tr(say.SCALE_RANGE).format(low=step.min, high=step.max)
        anchor = f" ({', '.join(ends)})" if ends else f" ({scale})"
        return ask + anchor + (optional_hint if step.optional else "")
    # How to pick (numbers, buttons, yes/no) is the adapter's to say, once, with the options
    # it shows; the engine adds only what no widget shows: that a question may be skipped.
    return ask + (optional_hint if step.optional else "")
