"""The centre's dashboard (issue 10): an ASGI app over the centre's analytics (docs/dashboard.md)."""
