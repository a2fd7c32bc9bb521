"""tfds dataset builders for data outside the tfds catalog (importing one registers it with tfds)."""
