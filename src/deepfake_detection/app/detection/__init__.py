"""Detection feature of the API service."""
