"""Participants' rights and the organiser's duties: subject access, retention, the audit log."""
