"""pygame screens: evaluation pad, teller console, hall board, ticket kiosk."""
