"""Editing a message is answering again: the same checks, the same hints, nothing invalid kept."""

from __future__ import annotations

from bot.events import Address, Inbound
from bot.flows.edits import check_edit
from tests.helpers import Person, stored, texts


def edit(dispatcher, original: str, text: str, msg_id: str | None = None) -> Inbound:
    return Inbound(
        platform="console",
        user_ref="u1",
        address=Address("console", "u1"),
        received_at=dispatcher.clock.now(),
        kind="edit",
        text=text,
        edit_of=original,
        platform_msg_id=msg_id,
    )


async def test_a_scale_answer_edited_out_of_range_is_refused_and_the_old_one_kept(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("4", msg_id="console:scale")
    replies = await dispatcher.handle(edit(dispatcher, "console:scale", "999", "console:e1"))
    assert "Please pick a number from 1 to 5." in texts(replies)
    assert "kept your earlier answer" in texts(replies) and "(4)" in texts(replies)
    rows = await stored(dispatcher)
    assert [(r.answer, r.original_answer) for r in rows] == [("4", None)]


async def test_a_valid_edit_is_stored_as_the_first_answer_would_be(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("4", msg_id="console:scale")
    replies = await dispatcher.handle(edit(dispatcher, "console:scale", "Very positive"))
    assert replies == []
    rows = await stored(dispatcher)
    assert [(r.answer, r.original_answer) for r in rows] == [("5", "4")]


async def test_a_redelivered_refused_edit_repeats_its_hint_and_changes_nothing(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("2", msg_id="console:scale")
    first = await dispatcher.handle(edit(dispatcher, "console:scale", "lots", "console:e9"))
    again = await dispatcher.handle(edit(dispatcher, "console:scale", "lots", "console:e9"))
    assert texts(first) == texts(again) and "Please pick a number" in texts(first)
    assert [r.answer for r in await stored(dispatcher)] == ["2"]


def test_free_text_edits_pass_and_voice_notes_are_not_replaced(settings):
    assert check_edit(settings, "challenge-1", "opening", "open", "new words", "old").answer
    assert check_edit(settings, "pulse", "positive", "voice", "4", "[voice note]").answer is None
    assert check_edit(settings, "pulse", "positive", "scale", "  ", "4").answer is None
    assert check_edit(settings, "gone", "gone", "scale", "4", "3").answer is None
