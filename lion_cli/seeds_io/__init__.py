"""Reading seed sources: a file, a dataset folder or a Hugging Face hub id, into core's parser.

The I/O edge of seed import: it opens files and datasets (pyarrow and datasets, the `data` extra,
imported only for the sources that need them) and hands text or records to core/seeds.py, which
holds every rule about what a seed is.
"""
