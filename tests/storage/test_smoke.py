from __future__ import annotations

from tests.helpers import Person, stored, texts


async def test_console_person_completes_pulse(dispatcher):
    person = Person(dispatcher)
    replies = await person.join("1")
    assert "How positive" in texts(replies)
    replies = await person.say("4")
    assert "Thank you" in texts(replies)
    rows = await stored(dispatcher)
    assert [(r.flow, r.step, r.group, r.answer, r.channel) for r in rows] == [
        ("pulse", "positive", "parents", "4", "console")
    ]
