"""tfds dataset builders for data outside the tfds catalog.

Each package's __init__ holds what a task needs to know of the data (file names, columns) without
importing tfds' builder machinery; the builder module itself (e.g. multi30k/multi30k.py) registers
with tfds when it is imported, which tasks/tfds_data.py does the first time the data is loaded.
"""

MODULES = {"ett": "tasks.builders.ett.ett", "multi30k": "tasks.builders.multi30k.multi30k",
           "ud_english_ewt": "tasks.builders.ud_english_ewt.ud_english_ewt"}
