"""The legacy Clickatell HTTP API (`api_id`, user and password; ../shared/clickatell-http.md) as
one backend of the gateway port, with its simulator (`sandbox`)."""
