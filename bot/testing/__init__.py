"""What tests and benchmarks share to run the app as Slack and the gateway would see it. Nothing
here is imported by the product; it lives under `bot/` because benchmarks (bench/ is no package
under tests/) and the console's fake Slack must reach it without the tests tree.

- `app`: the one way to start the real app (`RunningApp`: the runtime `sms-bot serve` runs, in
  this process; `AppOptions` says how it differs from the defaults), and `process` the same
  configuration as a `python -m bot serve` subprocess (`ServedApp`), to kill or to measure.
- `slack`: the one fake Slack (`FakeSlack`: the console's stand-in, plus test scripting).
- `signing`: the one signed-request builder (Slack's v0 HMAC over the raw body) and the test
  workspace.
- `gateway`: the scripted gateway (`ScriptedGateway`) and the client's in-memory double;
  `sandbox`: the product's sandbox as benchmarks start it, and a counter and a gate around it.
- `callbacks`: Clickatell's status and MO callbacks, byte for byte.
- `state`: every read of the app's database (and the one way to seed a send), through `Storage`.
- `clocks`, `waiting`: a manual clock; waiting on a condition instead of sleeping.
"""
