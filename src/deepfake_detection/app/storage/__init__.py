"""Storage feature of the API service."""
