"""A test-only Django app whose probe checks do what a JSON file tells them.

``CHECKAPP_STATE`` names the file: ``{"liveness": "error", "readiness": "raise", ...}``.
Modes: ok, warning, error, critical, raise, hang (sleeps ``hang_s`` seconds, default 3).
A missing file or tag means ok. The file is read on every run, so a test can
change a verdict while the server runs; each run adds its tag as a line to
``<file>.runs``, so a test can wait for a number of runs.
"""
