"""The event-time engine: one engine per partition, a runner per rule, hits to warnings,
timers and the watermark over several inputs."""
