"""Multi30k task 1 (builder: multi30k.py): the files of each split, as the multi30k/dataset repository names them."""

FILES = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
LANGUAGES = ("de", "en")
MANUAL_FILES = tuple(f"{stem}.{language}.gz" for stem in FILES.values() for language in LANGUAGES)
