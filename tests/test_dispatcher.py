"""The dispatcher end to end on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.events import Address, Inbound
from storage.models import Enrolment, Participant, PlatformAddress, Response
from storage.repositories import InviteRepo
from tests.helpers import Person, stored, texts


async def count(dispatcher, model) -> int:
    async with dispatcher.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def test_redelivered_message_is_stored_once_and_gets_the_same_reply(dispatcher):
    person = Person(dispatcher)
    await person.join()
    first = await person.say("4", msg_id="console:dup")
    second = await person.say("4", msg_id="console:dup")
    assert texts(first) == texts(second)
    assert len(await stored(dispatcher)) == 1


async def test_concurrent_duplicates_store_once(dispatcher):
    person = Person(dispatcher)
    await person.join()
    results = await asyncio.gather(*(person.say("5", msg_id="console:race") for _ in range(4)))
    assert all(texts(r) == texts(results[0]) for r in results)
    assert [r.answer for r in await stored(dispatcher)] == ["5"]


async def test_nothing_but_a_pseudonym_exists_before_consent_and_declining_erases(dispatcher):
    person = Person(dispatcher)
    await person.say("/start")
    assert await count(dispatcher, Response) == 0
    await person.say("no")
    assert await count(dispatcher, Participant) == 0
    assert await count(dispatcher, PlatformAddress) == 0


async def test_invite_code_fixes_group_and_limits_uses(dispatcher, clock):
    async with dispatcher.sessionmaker.begin() as session:
        code = (await InviteRepo(session).create("leeds-2026", "la", clock.now(), max_uses=1)).code
    first = Person(dispatcher, user_ref="a")
    await first.say(f"/start {code}")
    await first.say("yes")
    await first.say("3")
    assert [r.group for r in await stored(dispatcher)] == ["la"]
    second = Person(dispatcher, user_ref="b")
    replies = await second.say(f"/start {code}")
    assert replies[0].text == "Sorry, that invite code has already been used up."


async def test_expired_invite_is_refused(dispatcher, clock):
    async with dispatcher.sessionmaker.begin() as session:
        code = (
            await InviteRepo(session).create(
                "leeds-2026", "vcs", clock.now(), expires_at=clock.now() + timedelta(days=1)
            )
        ).code
    clock.advance(timedelta(days=2))
    replies = await Person(dispatcher).say(f"/start {code}")
    assert replies[0].text == "Sorry, that invite code has expired."


async def test_mydata_lists_answers_and_delete_erases_everything(dispatcher):
    person = Person(dispatcher)
    await person.join("3")
    await person.say("2")
    replies = await person.say("/mydata")
    summary = texts(replies)
    assert "Children's centre managers and staff" in summary
    assert "“How positive do you feel about children's centres" in summary and ": 2" in summary
    assert "pulse/positive" not in summary
    await person.say("/delete")
    await person.say("yes")
    assert await count(dispatcher, Response) == 0
    assert await count(dispatcher, Participant) == 0


async def test_edit_updates_the_answer_and_keeps_the_original(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("4")
    await person.say("First thought", msg_id="console:m1")
    await dispatcher.handle(
        Inbound(
            platform="console",
            user_ref="u1",
            address=Address("console", "u1"),
            received_at=dispatcher.clock.now(),
            kind="edit",
            text="Better thought",
            edit_of="console:m1",
        )
    )
    rows = await stored(dispatcher)
    assert (rows[-1].answer, rows[-1].original_answer) == ("Better thought", "First thought")
    assert rows[-1].step == "unprompted"  # no question was open, but the comment is kept


async def test_group_is_kept_as_it_was_when_answered(dispatcher):
    person = Person(dispatcher, user_ref="switcher")
    await person.join("1")
    await person.say("4")
    await person.say("/stop")
    await person.say("/start")
    await person.say("yes")
    await person.say("2")
    await person.say("5")
    rows = await stored(dispatcher)
    assert [(r.group, r.answer) for r in rows] == [("parents", "4"), ("vcs", "5")]


async def test_a_new_persons_first_messages_arriving_together_are_both_handled(dispatcher):
    person = Person(dispatcher, user_ref="eager")
    first, second = await asyncio.gather(person.say("/start"), person.say("/help"))
    assert "Do you agree" in texts(first) + texts(second)
    assert "/mydata" in texts(first) + texts(second)
    assert await count(dispatcher, Participant) == 1


async def test_messages_arriving_together_keep_each_persons_order(dispatcher):
    people = [Person(dispatcher, user_ref=f"p{i}") for i in range(5)]
    for person in people:
        await person.join()
        await person.say("4")
    dispatcher.rehearsal = False
    for person in people:  # one open flow each, started by the scheduler's path
        await dispatcher.offer(
            (await _participant_id(dispatcher, person)),
            "leeds-2026",
            "challenge-1@2d",
            "challenge-1",
        )
    sends = [person.say(f"{person.user_ref} answer {n}") for n in range(4) for person in people]
    replies = await asyncio.gather(*sends)
    assert len(replies) == 20
    rows = [r for r in await stored(dispatcher) if r.flow == "challenge-1"]
    for person in people:
        mine = [(r.step, r.answer) for r in rows if r.answer.startswith(person.user_ref + " ")]
        assert mine == [
            ("opening", f"{person.user_ref} answer 0"),
            ("probe-1", f"{person.user_ref} answer 1"),
            ("probe-2", f"{person.user_ref} answer 2"),
            ("more", f"{person.user_ref} answer 3"),
        ]


async def test_a_duplicate_inside_a_batch_is_stored_once_and_others_are_kept(dispatcher):
    people = [Person(dispatcher, user_ref=f"d{i}") for i in range(3)]
    for person in people:
        await person.join()
    newcomer = Person(dispatcher, user_ref="newcomer")
    replies = await asyncio.gather(
        people[0].say("4", msg_id="console:twice"),
        people[1].say("5"),
        people[0].say("4", msg_id="console:twice"),
        newcomer.say("/start"),
        people[2].say("3"),
    )
    assert texts(replies[0]) == texts(replies[2])
    assert "Do you agree" in texts(replies[3])
    assert sorted(r.answer for r in await stored(dispatcher)) == ["3", "4", "5"]


async def _participant_id(dispatcher, person) -> int:
    async with dispatcher.sessionmaker() as session:
        return int(
            await session.scalar(
                select(PlatformAddress.participant_id).where(
                    PlatformAddress.user_ref == person.user_ref
                )
            )
        )


async def test_reply_ledger_finds_cut_off_replies_but_not_superseded_or_delivered_ones(
    dispatcher, clock
):
    from datetime import timedelta

    ann, bob = Person(dispatcher, "telegram", "ann"), Person(dispatcher, "telegram", "bob")
    dispatcher.settings = dispatcher.settings.model_copy(
        update={"telegram": dispatcher.settings.telegram.model_copy(update={"token": "1:x"})}
    )
    dispatcher._engines.clear()
    await ann.say("/start", msg_id="a1")
    await ann.say("yes", msg_id="a2")  # superseded by a3 below
    await ann.say("1", msg_id="a3")  # the latest: its replies are due
    await bob.say("/start", msg_id="b1")
    await dispatcher.replied("telegram", ["b1"])  # delivered
    clock.advance(timedelta(seconds=1))
    pending = await dispatcher.unreplied("telegram", handled_before=clock.now())
    assert [(p.address.chat_ref, p.platform_msg_id) for p in pending] == [("ann", "a3")]
    assert "How positive" in texts(list(pending[0].replies))
    # A redelivery of a delivered message changes nothing and sends nothing again.
    assert await bob.say("/start", msg_id="b1") == []
    # Marked ones are not offered again.
    await dispatcher.replied("telegram", ["a3"])
    assert await dispatcher.unreplied("telegram", handled_before=clock.now()) == []


# -- what people mean -------------------------------------------------------------------------
async def test_stop_stops_at_once_and_nothing_after_it_is_stored(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("4")
    replies = await person.say("Stop")
    assert len(replies) == 1 and "stopped taking part" in replies[0].text
    for later in ("one more thing", "yes", "5", "/skip", "\u200b"):
        await person.say(later)
    assert [r.answer for r in await stored(dispatcher)] == ["4"]
    async with dispatcher.sessionmaker() as session:
        opted_out = await session.scalar(select(Enrolment.opted_out_at))
    assert opted_out is not None


async def test_stop_arriving_in_a_batch_with_answers_keeps_arrival_order(dispatcher):
    person = Person(dispatcher, user_ref="batch")
    await person.join()
    dispatcher.rehearsal = True
    await asyncio.gather(
        person.say("4"), person.say("UNSUBSCRIBE"), person.say("after"), person.say("5")
    )
    assert [r.answer for r in await stored(dispatcher)] == ["4"]


async def test_invisible_messages_are_not_stored_even_in_a_batch(dispatcher):
    people = [Person(dispatcher, user_ref=f"z{i}") for i in range(3)]
    for person in people:
        await person.join()
    replies = await asyncio.gather(
        people[0].say("\u200b\u200d"),
        people[1].say("\ufe0f "),
        people[2].say("3"),
        people[0].say("  \u3164 "),
    )
    assert "looked empty" in texts(replies[0]) and "How positive" in texts(replies[0])
    assert [r.answer for r in await stored(dispatcher)] == ["3"]


async def test_plain_skip_is_not_stored_as_an_answer(dispatcher, settings):
    dispatcher.rehearsal = True
    person = Person(dispatcher)
    await person.join()
    for text in ("4", "/done", "/done", "Helps", "Hinders"):
        await person.say(text)
    replies = await person.say("Skip")
    assert "Skipped" in texts(replies) and "Have you worked" in texts(replies)
    answers = [(r.step, r.answer) for r in await stored(dispatcher) if r.flow == "force-field"]
    assert answers == [("helps", "Helps"), ("hinders", "Hinders")]


async def test_mydata_shows_the_reference_that_exports_and_forget_use(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("5")
    summary = texts(await person.say("/mydata"))
    pseudonym = (await stored(dispatcher))[0].participant
    assert f"Your reference: {pseudonym}." in summary
    assert "“Leeds children's centres listening exercise”" in summary


async def test_edits_that_show_nothing_or_come_after_stop_change_no_answer(dispatcher):
    person = Person(dispatcher)
    await person.join()
    await person.say("4")
    await person.say("First thought", msg_id="console:e1")

    async def edit(text: str) -> None:
        await dispatcher.handle(
            Inbound(
                platform="console",
                user_ref="u1",
                address=Address("console", "u1"),
                received_at=dispatcher.clock.now(),
                kind="edit",
                text=text,
                edit_of="console:e1",
            )
        )

    await edit("\u200b\u2060")
    assert (await stored(dispatcher))[-1].answer == "First thought"
    await person.say("/stop")
    await edit("Changed after stopping")
    assert (await stored(dispatcher))[-1].answer == "First thought"
