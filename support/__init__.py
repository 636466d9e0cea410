"""Small helpers every part may use, importing nothing of the project: the retry policy, the
SQLite write transaction, the end of a command's output into a closed pipe."""
