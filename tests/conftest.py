"""Suite-wide settings.

Hypothesis runs derandomized and without its example database so that CI and a developer's
machine see the same examples; no deadline, because a loaded 2-core CI box must not turn a
slow example into a failure (speed is measured in bench/, never asserted in tests).
"""

from hypothesis import HealthCheck, settings

# The throwaway PostgreSQL cluster (fixtures, and the summary line when it had to be skipped).
pytest_plugins = ["tests.support.postgres_plugin"]

settings.register_profile(
    "sms-bot",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("sms-bot")
