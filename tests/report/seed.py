"""A small campaign stored through the real repositories, with figures known in advance.

Who answered what (pulse is the 1-5 scale asked at the start and again at the end):

=========  =======================  ==============  ======================
person     pulse start -> end       worked with?    comments
=========  =======================  ==============  ======================
parents    p0 2->5, p1 4->4,        p0 yes (Weekly) three each from p0-p3
           p2 3, p3 1->4, p5 2      p1 no
           (p4 silent, p5 stopped)
vcs        v0 5->5, v1 4->2, v2 3->4 v0 yes, v1 yes  three each from v0-v2
           (v3 silent)
cc_staff   c0 4, c1 5 (c2 silent)   c0 yes           two each from c0, c1
la         l0, l1 silent
=========  =======================  ==============  ======================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage.records import NewResponse
from storage.repositories import EnrolmentRepo, ParticipantRepo, ResponseRepo

CAMPAIGN = "leeds-2026"
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
END = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)

PEOPLE: dict[str, str] = {
    **{f"p{i}": "parents" for i in range(6)},
    **{f"v{i}": "vcs" for i in range(4)},
    **{f"c{i}": "cc_staff" for i in range(3)},
    **{f"l{i}": "la" for i in range(2)},
}
STOPPED = {"p5"}
PULSE_START = {
    "p0": 2,
    "p1": 4,
    "p2": 3,
    "p3": 1,
    "p5": 2,
    "v0": 5,
    "v1": 4,
    "v2": 3,
    "c0": 4,
    "c1": 5,
}
PULSE_END = {"p0": 5, "p1": 4, "p3": 4, "v0": 5, "v1": 2, "v2": 4}
WORKED = {
    "p0": ("yes", "Weekly"),
    "p1": ("no", None),
    "v0": ("yes", "Monthly"),
    "v1": ("yes", "Weekly"),
    "c0": ("yes", "Weekly"),
}
COMMENTS = {
    "p0": [
        "Evening sessions would help working parents",
        "The waiting list for the stay and play group is too long",
        "More evening and weekend sessions please",
    ],
    "p1": [
        "Weekend sessions for dads would be great",
        "The waiting list for speech therapy is months long",
        "Evening sessions after work so we can come",
    ],
    "p2": [
        "Long waiting list for the baby group",
        "Sessions in the evening would fit around work",
        "Weekend sessions for working families",
    ],
    "p3": [
        "I waited weeks on a waiting list for help",
        "Evening sessions are needed",
        "Waiting times for the health visitor are too long",
    ],
    "v0": [
        "Short contracts make it hard to plan and keep staff",
        "Funding comes too late and contracts are too short",
        "Tendering is too complex for small charities",
    ],
    "v1": [
        "Contracts of one year do not let us plan",
        "The tendering paperwork is too complex for a small group",
        "Funding for small charities is short term",
    ],
    "v2": [
        "Longer contracts and simpler tendering would help",
        "Small charities cannot afford the tendering process",
        "Short term funding contracts stop us planning",
    ],
    "c0": [
        "Shared training with voluntary groups builds trust",
        "Joint training for centre staff and volunteers",
    ],
    "c1": [
        "Training together helps staff and volunteers trust each other",
        "We need shared training days with partners",
    ],
}


async def seed(session: Any) -> dict[str, str]:
    """Store the campaign above; returns each person's pseudonym (for privacy checks)."""
    people, enrolments, responses = (
        ParticipantRepo(session),
        EnrolmentRepo(session),
        ResponseRepo(session),
    )
    pseudonyms: dict[str, str] = {}
    ids: dict[str, int] = {}
    for index, (name, group) in enumerate(PEOPLE.items()):
        joined = START - timedelta(hours=1) + timedelta(minutes=index)
        ref = await people.create("console", f"user-{name}", f"chat-{name}", joined)
        pseudonyms[name], ids[name] = ref.pseudonym, ref.id
        await enrolments.enrol(ref.id, CAMPAIGN, group, "console", None, joined)
        if name in STOPPED:
            await enrolments.opt_out(ref.id, CAMPAIGN, START + timedelta(days=3))

    def answer(name: str, flow: str, step: str, kind: str, text: str, at: datetime) -> NewResponse:
        return NewResponse(
            CAMPAIGN, flow, step, PEOPLE[name], "console", kind, text, at, participant_id=ids[name]
        )

    batch = []
    for name, value in PULSE_START.items():
        batch.append(answer(name, "pulse", "positive", "scale", str(value), START))
    for name, value in PULSE_END.items():
        batch.append(answer(name, "pulse", "positive", "scale", str(value), END))
    for name, (worked, often) in WORKED.items():
        at = START + timedelta(days=330)
        batch.append(answer(name, "force-field", "worked-together", "yesno", worked, at))
        if often:
            batch.append(answer(name, "force-field", "how-often", "choice", often, at))
    for name, texts in COMMENTS.items():
        for n, text in enumerate(texts):
            at = START + timedelta(days=2, minutes=n)
            batch.append(
                answer(name, "challenge-1", "opening" if n == 0 else f"probe-{n}", "open", text, at)
            )
    await responses.add_many(batch)
    return pseudonyms
