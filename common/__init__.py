"""The shared leaf: what models, tasks and the engine all use (errors, file writes, settings), importing nothing
of the zoo."""
