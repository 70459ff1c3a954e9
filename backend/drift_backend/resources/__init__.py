"""API resources, one folder each (routes + schemas); MODULES order is the docs' tag order."""
