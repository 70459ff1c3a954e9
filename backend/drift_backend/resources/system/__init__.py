"""Service endpoints outside the versioned API: health and version."""
