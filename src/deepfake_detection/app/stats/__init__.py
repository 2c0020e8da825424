"""Statistics feature of the API service."""
