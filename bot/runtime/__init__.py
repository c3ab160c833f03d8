"""Process plumbing: logging, telemetry, periodic tasks, readiness, loopback checks, lifecycle settings."""
