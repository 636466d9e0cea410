"""MQTT sync: outbox uplink, acknowledgements, status, configuration downlink, message schema."""
