"""Embedded Colonies-compatible server (colonies v1.9.7 wire protocol) backed by SQLite.

Run it with ``hpcq server start``; start one from code or tests with
:func:`hpcq.server.launch.start_server`.
"""
