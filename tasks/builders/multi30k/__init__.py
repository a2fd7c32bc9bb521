from tasks.builders.multi30k.multi30k import Multi30k  # noqa: F401  (registers "multi30k" with tfds)
