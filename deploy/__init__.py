"""Deployment: an nginx HTTP/2 front for leafcube workers, and publishing to a plain web server.

See docs/deploy.md.
"""
