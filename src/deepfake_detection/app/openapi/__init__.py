"""Openapi feature of the API service."""
