"""ETT-small (builder: ett.py): the series' files, columns and steps per day."""

COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
SERIES = {"h1": ("ETTh1.csv", 24), "h2": ("ETTh2.csv", 24), "m1": ("ETTm1.csv", 96), "m2": ("ETTm2.csv", 96)}
