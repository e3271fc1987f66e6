"""Fleet runs, the pure part: the inventory file, the selection and sharding of its clusters, and the batch
report (building, JSON, reading one back strictly, merging shard reports). No I/O beyond reading the text it
is handed; the use cases live in migrator/app/batch.py."""
