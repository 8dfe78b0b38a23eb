"""Dev-only tools (local stack, CLI, benchmarks): never shipped in the Lambda layer."""
