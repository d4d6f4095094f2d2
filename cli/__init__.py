"""The ``leafcube`` command line."""
