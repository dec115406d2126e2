"""SMS gateways: the port (`base`) and its backends (`clickatell_http`: the legacy HTTP API).

Only the composition (building the app's services, the command line) picks and builds a backend;
everything else uses `bot.gateway.base`.
"""
