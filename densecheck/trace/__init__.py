"""Trace mode: opt-in runtime confirmation of the static shapes (torch meta device, Keras symbolic).

Trace mode *executes the user's model code*, always in a subprocess (:mod:`densecheck.trace.runner`) with a timeout
and downloads disabled. The static linter never imports this package's ``record`` / ``runner`` modules.
"""
