"""The centre's dashboard (issue 10): an ASGI app over the centre's analytics.

How it is built and used: docs/dashboard.md.
"""
