"""Users: registration of token holders and administrators' search."""
