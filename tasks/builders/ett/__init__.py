from tasks.builders.ett.ett import Ett  # noqa: F401  (registers "ett" with tfds)
