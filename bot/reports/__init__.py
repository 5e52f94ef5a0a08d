"""Rendering of a person's history into files: the insights chart (PNG) and the report (PDF).

Both are CPU-bound; call the ``*_async`` variants from handlers so the event loop never waits.
"""
