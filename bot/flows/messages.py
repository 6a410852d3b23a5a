"""Everything the bot says in its own voice, in one place so it can be reviewed and translated.

Each text is an English gettext msgid marked with ``N_`` (``pybabel extract -k N_``); the engine
translates it into the participant's language through :mod:`bot.flows.catalogs` when it speaks.
"""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``text`` for extraction; it is translated where it is said, not here."""
    return text


HELP = N_(
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
WELCOME = N_("Hello! Thanks for your interest in “{title}”.")
CONSENT_REASK = N_("Sorry, I didn't catch that. Do you agree to take part?")
DECLINED = N_(
    "No problem, thank you for considering it. Nothing has been stored. "
    "If you change your mind, send /start."
)
CHOOSE_CAMPAIGN = N_("Which exercise would you like to join?")
CHOOSE_GROUP = N_("Which of these best describes you?")
GROUP_REASK = N_("Sorry, I couldn't match that to one of the options. Which best describes you?")
INVITE_ONLY = N_(
    "This exercise is by invitation only. Please use the link or code you were sent, "
    "or ask the organiser for one."
)
NO_CAMPAIGN = N_(
    "There is no listening exercise open here at the moment. Thank you for your interest."
)
ENROLLED = N_("Thank you! You're taking part as: {group}. You can stop at any time with /stop.")
NOTHING_NOW = N_("Thank you. There's no question open right now; I'll message you when there is.")
ALREADY_IN = N_("You're already taking part in “{title}”.")
UNKNOWN_COMMAND = N_("Sorry, I don't know the command {command}. Send /help to see what I can do.")
# /stop acts at once (no "are you sure?"): a person who says stop has said what they mean, and a
# confirmation question would turn their next message into an answer.
STOPPED = N_(
    "You've stopped taking part: you won't get any more questions, and nothing you send now is "
    "kept. Your answers so far are kept unless you send /delete. Send /start to rejoin."
)
STOPPED_ALREADY = N_(
    "You've stopped taking part, so I didn't keep that message. Send /start to rejoin."
)
DELETE_CONFIRM = N_(
    "Do you want to erase everything you've told us, including all your answers? "
    "This cannot be undone."
)
DELETED = N_("Done: everything you told us has been erased. Thank you for your time.")
CANCELLED = N_("OK, nothing changed.")
CLOSED = N_(
    "This exercise has closed, thank you. I didn't store that message. "
    "You can still use /mydata or /delete."
)
FLOW_DONE = N_("Thank you, that's all for “{title}”.")
OPEN_HINT = N_("Reply as often as you like; send /done when you have finished.")
OPEN_MORE = N_("Thank you. Add anything else you'd like, or send /done when you have finished.")
OPEN_NOTED = N_("Noted, thank you.")
SKIPPED = N_("Skipped.")
CANNOT_SKIP = N_("This question can't be skipped, sorry.")
NOTHING_TO_SKIP = N_("There's no question to skip right now.")
NOTHING_TO_FINISH = N_("There's nothing to finish right now.")
DONE_IN_STRUCTURED = N_("Please answer this question first (or /stop to stop taking part).")
MEDIA_NOT_READ = N_(
    "Thanks! I can only read text (and voice notes for open questions), so please type your answer."
)
VOICE_NOT_HERE = N_("Thanks for the voice note! For this question, please type or tap your answer.")
VOICE_KEPT = N_("Thank you, I've kept your voice note.")
REMINDER = N_("A gentle reminder:")
TEXT_TOO_BLANK = N_("I didn't catch an answer there. Please type a few words.")
EDIT_REFUSED = N_(
    "{hint} I've kept your earlier answer to “{ask}” ({previous}); edit your message again to "
    "change it."
)
BLANK = N_("That message looked empty to me, so I haven't kept it.")
OPTIONAL_HINT = N_(" (optional: send skip to leave it out)")

# Words of the bot's own buttons and of yes/no questions (translated like the rest).
YES = N_("Yes")
NO = N_("No")
CHOOSE_LANGUAGE = N_("Which language would you like to use?")
LANGUAGE_SET = N_("OK, I'll write to you in English from now on.")
LANGUAGE_REASK = N_("Sorry, I couldn't match that to one of the languages.")
HELP_LANGUAGE = N_("/language – change the language I write in")
SCALE_RANGE = N_("{low} to {high}")

# Why an answer (or an edit of one) did not fit, on its own (a refused edit says it like this).
PLEASE_YES_NO = N_("Please answer yes or no.")
PICK_NUMBER = N_("Please pick a number from {low} to {high}.")
PICK_OPTION = N_("Please pick one of the options by its number (1 to {count}).")
PICK_OPTIONS = N_(
    "Please pick one or more options by their numbers, separated by commas (e.g. 1,3)."
)
PICK_AT_LEAST_ONE = N_("Please pick at least one option, e.g. 1,3.")
NOT_COMBINED = N_(
    "“{option}” can't be combined with other options: please pick it on its own, or pick the "
    "others without it."
)

# /mydata: what we hold about the person, in their language.
MYDATA_HEAD = N_("Here is what we hold about you:")
MYDATA_REFERENCE = N_(
    "• Your reference: {reference}. Quote it if you ask the organiser for a copy of your data or "
    "for it to be erased."
)
MYDATA_REACH = N_("• How we reach you: your {platforms} account id (never shown in reports).")
MYDATA_LANGUAGE = N_("• The language I write to you in: {language}.")
MYDATA_TAKING_PART = N_("• Taking part in “{title}” as {group}.")
MYDATA_STOPPED = N_("• Taking part in “{title}” as {group} (stopped).")
MYDATA_ANSWERS = N_("• {count} answer(s).")
MYDATA_SHOWING = N_("(showing the latest {count})")
MYDATA_DELETE = N_("Send /delete to erase all of it.")
UNPROMPTED = N_("A message you sent when no question was open")
ANYTHING_ELSE = N_("Anything else you added")

# Words the adapters add around a message (a button, a typing hint), in the message's language.
DONE_BUTTON = N_("Done ✓")
YES_NO_HINT = N_("(yes / no)")
REPLY_WITH_ONE_OF = N_("(reply with one of: {values})")
TYPE_NUMBERS = N_("(type the numbers of all that apply, e.g. 1,3)")
ALREADY_ANSWERED = N_("You've already answered this one.")
MOVED_ON = N_("That question has moved on; please use the latest message.")
PICK_FIRST = N_("Tick at least one option, then press Done.")

# The command menu (Telegram's setMyCommands) and Slack's `/listening` help.
COMMAND_START = N_("Join (or rejoin) the listening exercise")
COMMAND_HELP = N_("What I can do")
COMMAND_STOP = N_("Stop taking part")
COMMAND_MYDATA = N_("See what we hold about you")
COMMAND_DELETE = N_("Erase everything you said")
COMMAND_DONE = N_("Finish an open question")
COMMAND_SKIP = N_("Skip an optional question")
COMMAND_LANGUAGE = N_("Change the language I write in")
SLACK_HELP = N_(
    "`/listening status` – which prompts are open for you\n"
    "`/listening stop` – stop taking part\n"
    "`/listening mydata` – see what we hold about you\n"
    "`/listening delete` – erase everything you have told us"
)
SLACK_HELP_LANGUAGE = N_("`/listening language` – change the language I write in")
REPLIED_IN_DM = N_("I've replied in our direct messages.")
