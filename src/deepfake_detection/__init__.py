"""Deepfake detection system."""
