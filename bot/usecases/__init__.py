"""Use cases: what the app does, whoever asks (a slash command, the modal, the console, a worker).

They work on the ports (`bot.storage.base.Storage`, `bot.gateway.base.Gateway`, `ports.py`) and
the domain, return plain results, and know neither Slack's objects nor SQL; the Slack edge turns
their results into messages.
"""
