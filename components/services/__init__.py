"""The server's infrastructure: configuration and limits (config), signed sessions, the per-session store
and the data sets it holds."""
