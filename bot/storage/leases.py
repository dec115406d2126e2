"""How long a claim on stored work lasts before another worker may take it over.

Its own module so every repository protocol (`base`, `bulks`) shares one default without
importing each other.
"""

from __future__ import annotations

from datetime import timedelta

DEFAULT_LEASE = timedelta(seconds=60)
