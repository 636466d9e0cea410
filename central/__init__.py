"""The central office: MQTT ingest of device events, the ingest database, uptime (开机率)."""
