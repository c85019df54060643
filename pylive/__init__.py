"""pylive: the build-time engine of Python Internals, Live, and its MkDocs plugin."""
