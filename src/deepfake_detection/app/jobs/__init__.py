"""Jobs feature of the API service."""
