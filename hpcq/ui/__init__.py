"""Read-only web dashboard over the results catalog (Dash on Flask): a metrics table, a workflow
graph and a JSON API under /api/v1. See docs/dashboard.md."""
