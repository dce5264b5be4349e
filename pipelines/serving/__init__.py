"""What readers open: the serving files (files.py, the dashboards' door), publishing them
(publish.py, ops_file.py), the mask of restricted people, rollups, analyst SQL and Parquet
export.
"""
