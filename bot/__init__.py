"""sms-bot: Clickatell SMS in Slack."""

__version__ = "0.1.0"
