"""The domain: plain data and rules that know neither Slack, SQL nor any gateway's wire format.

Everything else depends on this package; it depends on nothing of the project's.
"""
