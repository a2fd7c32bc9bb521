"""UD English EWT (builder: ud_english_ewt.py): the release and its files."""

COMMIT = "15d613d8447b3478787d4c278730a1e48a945efb"   # UD_English-EWT, README "v2.15 -- 2024-11-15"
FILES = {"train": "en_ewt-ud-train.conllu", "validation": "en_ewt-ud-dev.conllu", "test": "en_ewt-ud-test.conllu"}
MANUAL_FILES = tuple(FILES.values())
