"""Flask extensions of the API: database, authentication and the documented API object."""
