"""A proxy whose admin "changelist" is the operations catalog page (sync/catalog.py).

It only gives the admin index its link and permissions; the catalog is computed from the
connector registry. (A proxy of the preset table: no table of its own, nothing secret in it.)
"""

from sync.models.presets import RestPreset


class OperationsCatalog(RestPreset):
    class Meta:
        proxy = True
        verbose_name = "operations catalog"
        verbose_name_plural = "operations catalog"
