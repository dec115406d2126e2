"""SMS facts that hold whatever the gateway: phone numbers, text encoding and part counting,
sender and client message IDs, and the refusals these checks raise before any gateway call.

It depends on nothing of the project's; gateways, the Slack side and the command line use it.
"""
