"""Errors of the catalogue layer, each with a message a user can act on."""


class CatalogueError(ValueError):
    """A catalogue that cannot be read, or a query it cannot answer."""


class NoDataError(CatalogueError):
    """A valid query that matches no data, e.g. a date range with no dates."""


class ROIError(ValueError):
    """A region of interest that is not valid GeoJSON, a bbox or a geometry."""
