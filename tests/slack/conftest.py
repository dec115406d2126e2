"""The Slack-side tests take the app as `sms-bot serve` runs it, with the product's timings
(the root conftest's `app`, `make_app` and `slack`)."""
