"""The probe process: answers Kubernetes' probes from the supervisor's latest snapshot."""
