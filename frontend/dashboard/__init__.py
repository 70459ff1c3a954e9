"""The dashboard's building blocks: data access, filters, tables and charts (pages live in app_pages/)."""
