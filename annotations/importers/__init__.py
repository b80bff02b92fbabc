"""Reading import files: formats (JSONL, CSV, LLaVA JSON, llava-critic-113k parquet) into plain rows, and image
sources (a folder, a zip archive, data: URIs, bytes embedded in the file) that refuse what escapes or explodes.
No database access here: annotations/services/imports.py validates and writes."""
