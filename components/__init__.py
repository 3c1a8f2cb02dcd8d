"""Dashboard panels (layout + callbacks), pure figure builders and the job runner.

Each module talks to the core only through ``gppnmf_core``'s public names.
"""
