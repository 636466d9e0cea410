"""TOML configuration: shipped defaults, example branch, loading and validation."""
