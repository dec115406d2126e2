"""Slack's Web API as this app uses it: the client with its retry handlers, and one reading of
Slack's errors. Listeners, the card publisher, the outbox and start-up all classify Slack's
answers here, so "transient", "rate limited" and "how long to wait" mean one thing everywhere.
"""
