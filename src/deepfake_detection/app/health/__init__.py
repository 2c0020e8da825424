"""Health feature of the API service."""
