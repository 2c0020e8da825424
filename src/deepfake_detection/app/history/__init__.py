"""History feature of the API service."""
