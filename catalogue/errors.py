"""Errors of the catalogue layer, each with a message a user can act on."""


class CatalogueError(ValueError):
    """A catalogue that cannot be read, or a query it cannot answer."""


class ROIError(ValueError):
    """A region of interest that is not valid GeoJSON, a bbox or a geometry."""
