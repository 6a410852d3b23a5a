"""Everything the bot says in its own voice, in one place so it can be reviewed and translated."""

from __future__ import annotations

HELP = (
    "I'm a listening bot: I ask a few short questions for a community consultation and keep your "
    "answers without your name.\n"
    "/start – join (or rejoin) the exercise\n"
    "/done – finish an open conversation\n"
    "/skip – skip a question that can be skipped\n"
    "/mydata – see what we hold about you\n"
    "/delete – erase everything you have told us\n"
    "/stop – stop taking part (no more questions)\n"
    "/help – this message"
)
WELCOME = "Hello! Thanks for your interest in “{title}”."
CONSENT_REASK = "Sorry, I didn't catch that. Do you agree to take part?"
DECLINED = (
    "No problem, thank you for considering it. Nothing has been stored. "
    "If you change your mind, send /start."
)
CHOOSE_CAMPAIGN = "Which exercise would you like to join?"
CHOOSE_GROUP = "Which of these best describes you?"
GROUP_REASK = "Sorry, I couldn't match that to one of the options. Which best describes you?"
INVITE_ONLY = (
    "This exercise is by invitation only. Please use the link or code you were sent, "
    "or ask the organiser for one."
)
NO_CAMPAIGN = "There is no listening exercise open here at the moment. Thank you for your interest."
ENROLLED = "Thank you! You're taking part as: {group}. You can stop at any time with /stop."
NOTHING_NOW = "Thank you. There's no question open right now; I'll message you when there is."
ALREADY_IN = "You're already taking part in “{title}”."
UNKNOWN_COMMAND = "Sorry, I don't know the command {command}. Send /help to see what I can do."
# /stop acts at once (no "are you sure?"): a person who says stop has said what they mean, and a
# confirmation question would turn their next message into an answer.
STOPPED = (
    "You've stopped taking part: you won't get any more questions, and nothing you send now is "
    "kept. Your answers so far are kept unless you send /delete. Send /start to rejoin."
)
STOPPED_ALREADY = (
    "You've stopped taking part, so I didn't keep that message. Send /start to rejoin."
)
DELETE_CONFIRM = (
    "Do you want to erase everything you've told us, including all your answers? "
    "This cannot be undone."
)
DELETED = "Done: everything you told us has been erased. Thank you for your time."
CANCELLED = "OK, nothing changed."
CLOSED = (
    "This exercise has closed, thank you. I didn't store that message. "
    "You can still use /mydata or /delete."
)
FLOW_DONE = "Thank you, that's all for “{title}”."
OPEN_HINT = "Reply as often as you like; send /done when you have finished."
OPEN_MORE = "Thank you. Add anything else you'd like, or send /done when you have finished."
OPEN_NOTED = "Noted, thank you."
SKIPPED = "Skipped."
CANNOT_SKIP = "This question can't be skipped, sorry."
NOTHING_TO_SKIP = "There's no question to skip right now."
NOTHING_TO_FINISH = "There's nothing to finish right now."
DONE_IN_STRUCTURED = "Please answer this question first (or /stop to stop taking part)."
MEDIA_NOT_READ = (
    "Thanks! I can only read text (and voice notes for open questions), so please type your answer."
)
VOICE_NOT_HERE = "Thanks for the voice note! For this question, please type or tap your answer."
VOICE_KEPT = "Thank you, I've kept your voice note."
REMINDER = "A gentle reminder:"
TEXT_TOO_BLANK = "I didn't catch an answer there. Please type a few words."
EDIT_REFUSED = (
    "{hint} I've kept your earlier answer to “{ask}” ({previous}); edit your message again to "
    "change it."
)
BLANK = "That message looked empty to me, so I haven't kept it."
OPTIONAL_HINT = " (optional: send skip to leave it out)"
