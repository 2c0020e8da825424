"""Calibrations of the deployment's detectors: fitted from labelled examples, versioned, switched by administrators."""
