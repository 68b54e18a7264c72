"""The jobs room: what runs when (ETL, features, views, drift), for EventBridge, the CLI and the
local timers."""
