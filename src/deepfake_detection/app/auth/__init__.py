"""Auth feature of the API service."""
