"""Deployment: an nginx HTTP/2 front for leafcube workers, and publishing to a plain web server.

See docs/deploy.md.
"""


class DeployError(ValueError):
    """A deployment that cannot be written or started; the CLI prints it as one line."""
