"""Web dashboard over the results catalog (Dash on Flask): a metrics table, a workflow graph and a
JSON API under /api/v1. It reads results; its one write is a saved ranking, into the catalog.
See docs/dashboard.md."""
