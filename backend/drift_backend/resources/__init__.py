"""API resources, one folder each (routes + schemas); `create_app` registers them in the docs' tag order."""
