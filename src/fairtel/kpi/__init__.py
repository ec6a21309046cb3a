"""kpi: see README.md in this folder."""
