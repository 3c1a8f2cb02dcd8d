"""Decomposition jobs in one place: the request and its computation (compute), the process that runs it (worker),
the record, launch, cancel and status seen from the web server (runner), and the server-wide slots (slots)."""
