"""The HTML report of `python pipelines/report.py`: the dashboard views as one offline page.

`dashboard` reads the figures, `charts` draws them, `page` lays them out, `browser` takes a
screenshot, and `command` says which file is read and written. Apart from the load: it reads
the DuckDB file a load wrote, and imports nothing of the rest of `pipelines/`.
"""
